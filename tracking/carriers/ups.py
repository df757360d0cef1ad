"""UPS Track API (REST, `/api/track/v1/details/{inquiryNumber}`) responses to our events.

Shape: `trackResponse.shipment[].package[].activity[]`, each activity with `status` (`type`,
`code`, `statusCode`, `description`), local `date` (YYYYMMDD) and `time` (HHMMSS) and, in newer
responses, `gmtDate`/`gmtTime`/`gmtOffset`. With `gmtOffset` the local time gets that offset;
without it the zone comes from the scan location (see `tracking.carriers.local_time`).

Mapping: the 3-digit milestone `statusCode` when the table knows it, else the activity `type`
letter. `carrier_code` keeps the 2-character activity `code` (what UPS prints on its site), or
the `statusCode`/`type` when that is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from tracking.carriers import local_time
from tracking.carriers.code_table import CodeMapping, CodeTable, R, S, mapping
from tracking.carriers.payload import JsonObject, array, as_object, obj, required_obj, text
from tracking.carriers.reason_hints import reason_from_text
from tracking.domain import CarrierParseError, Location, ParsedEvent
from tracking.tracking_numbers import normalise_number

SOURCE_KIND = "carrier_api"
CARRIER = "ups"
CODE_TABLE_VERSION = "ups-2026.11"

# Activity `status.type` (UPS Track API "Activity Status Type").
TYPE_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "M": mapping(S.INFO_RECEIVED),  # billing information received (label created)
        "MV": mapping(S.CANCELLED),  # billing information voided
        "P": mapping(S.IN_TRANSIT),  # pickup
        "I": mapping(S.IN_TRANSIT),
        "O": mapping(S.OUT_FOR_DELIVERY),
        "D": mapping(S.DELIVERED),
        "X": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        "RS": mapping(S.RETURNING_TO_SENDER),
        "DO": mapping(S.IN_TRANSIT),  # freight: delivered to origin CFS
        "DD": mapping(S.IN_TRANSIT),  # freight: delivered to destination CFS
        "W": mapping(S.IN_TRANSIT),  # freight: warehousing
        "NA": mapping(S.IN_TRANSIT),
    },
    fallback=mapping(S.IN_TRANSIT),
)

# Milestone `status.statusCode` (UPS Track API "Status Code" list).
STATUS_CODE_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "002": mapping(S.INFO_RECEIVED),  # shipment ready for UPS
        "003": mapping(S.INFO_RECEIVED),  # order processed: ready for UPS
        "005": mapping(S.IN_TRANSIT),
        "006": mapping(S.IN_TRANSIT),  # on the way
        "007": mapping(S.CANCELLED),  # shipment information voided
        "010": mapping(S.IN_TRANSIT),  # in transit: on time
        "011": mapping(S.DELIVERED),
        "012": mapping(S.IN_TRANSIT),  # clearance in progress
        "013": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        "014": mapping(S.IN_TRANSIT),  # clearance completed
        "016": mapping(S.IN_TRANSIT),  # held in warehouse
        "017": mapping(S.AVAILABLE_FOR_PICKUP, action=True),  # held for customer pickup
        "018": mapping(S.IN_TRANSIT),  # delivery change requested: hold for pickup
        "019": mapping(S.IN_TRANSIT),  # held for future delivery
        "020": mapping(S.IN_TRANSIT),  # held for future delivery requested
        "021": mapping(S.OUT_FOR_DELIVERY),  # on vehicle for delivery
        "022": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),  # first attempt made
        "023": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),  # second attempt made
        "024": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, action=True),  # final attempt
        "025": mapping(S.IN_TRANSIT),  # transferred to local post office for delivery
        "026": mapping(S.DELIVERED),  # delivered by local post office
        "027": mapping(S.IN_TRANSIT),  # delivery address change requested
        "028": mapping(S.IN_TRANSIT),  # delivery address changed
        "029": mapping(S.EXCEPTION, R.OTHER, action=True),  # exception: action required
        "030": mapping(S.EXCEPTION, R.CARRIER_OTHER),  # local post office exception
        "032": mapping(S.EXCEPTION, R.WEATHER),  # adverse weather may cause delay
        "033": mapping(S.RETURNING_TO_SENDER),  # return to sender requested
        "034": mapping(S.RETURNED_TO_SENDER),
        "035": mapping(S.RETURNING_TO_SENDER),
        "036": mapping(S.RETURNING_TO_SENDER),  # returning to sender: in transit
        "037": mapping(S.RETURNING_TO_SENDER),  # returning to sender: left UPS facility
        "038": mapping(S.IN_TRANSIT),  # picked up
        "039": mapping(S.IN_TRANSIT),  # in transit by post office
        "040": mapping(S.AVAILABLE_FOR_PICKUP, action=True),  # at UPS Access Point
        "041": mapping(S.IN_TRANSIT),  # service upgrade requested
        "042": mapping(S.IN_TRANSIT),  # service upgrade completed
        "043": mapping(S.AVAILABLE_FOR_PICKUP, action=True),  # held for customer pickup
        "044": mapping(S.EXCEPTION, R.CARRIER_OTHER),  # delay
        "045": mapping(S.EXCEPTION, R.CUSTOMS_DELAY),  # held for clearance
        "046": mapping(S.IN_TRANSIT),  # delivery change completed
        "047": mapping(S.IN_TRANSIT),  # delivery change requested
        "048": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),  # delivery attempted
        "071": mapping(S.IN_TRANSIT),  # in transit: on time
        "072": mapping(S.OUT_FOR_DELIVERY),  # loaded on delivery vehicle
    },
    fallback=mapping(S.IN_TRANSIT),
)


def _number(raw: str) -> str:
    number = normalise_number(raw)
    if not number:
        raise CarrierParseError("tracking number: only spaces and separators")
    return number


def _location(activity: JsonObject, where: str) -> Location:
    address = obj(obj(activity, "location", where), "address", f"{where}.location")
    here = f"{where}.location.address"
    return Location(
        city=text(address, "city", here).strip(),
        region=text(address, "stateProvince", here).strip(),
        postcode=text(address, "postalCode", here).strip(),
        country=(text(address, "countryCode", here) or text(address, "country", here)).strip(),
    )


def _occurred_at(activity: JsonObject, where: str, location: Location) -> datetime:
    day, clock = text(activity, "date", where), text(activity, "time", where)
    offset = text(activity, "gmtOffset", where)
    if offset:
        zone = local_time.parse_offset(offset, f"{where}.gmtOffset")
        return local_time.parse_compact(day, clock, where, Location()).replace(tzinfo=zone)
    return local_time.parse_compact(day, clock, where, location)


def _package_eta(package: JsonObject, where: str, location: Location) -> datetime | None:
    for index, item in enumerate(array(package, "deliveryDate", where)):
        entry = as_object(item, f"{where}.deliveryDate[{index}]")
        # SDD: scheduled, RDD: rescheduled; DEL is the actual delivery date, not an estimate.
        if text(entry, "type", where) in {"SDD", "RDD"} and text(entry, "date", where):
            end = text(obj(package, "deliveryTime", where), "endTime", where)
            return local_time.parse_compact(text(entry, "date", where), end, where, location)
    return None


def _event(
    activity: JsonObject, where: str, tracking_number: str, eta: datetime | None
) -> ParsedEvent:
    status = obj(activity, "status", where)
    type_code = text(status, "type", f"{where}.status").strip()
    status_code = text(status, "statusCode", f"{where}.status").strip()
    activity_code = text(status, "code", f"{where}.status").strip()
    description = text(status, "description", f"{where}.status")
    if not (type_code or status_code or activity_code):
        raise CarrierParseError(f"{where}.status: no type, code or statusCode")
    found = STATUS_CODE_TABLE.get(status_code) if status_code else None
    if found is None and type_code:
        found = TYPE_TABLE.get(type_code)
    if found is not None and found.status in {S.EXCEPTION, S.ATTEMPT_FAILED}:
        hint = reason_from_text(description)
        if hint is not None:
            found = CodeMapping(found.status, hint[0], found.action_required or hint[1])
    location = _location(activity, where)
    return ParsedEvent(
        carrier=CARRIER,
        tracking_number=tracking_number,
        occurred_at=_occurred_at(activity, where, location),
        status=(found or TYPE_TABLE.fallback).status,
        carrier_code=activity_code or status_code or type_code,
        carrier_text=description,
        reason=(found or TYPE_TABLE.fallback).reason,
        action_required=(found or TYPE_TABLE.fallback).action_required,
        location=location,
        mapped=found is not None,
        mapping_version=CODE_TABLE_VERSION,
        estimated_delivery=eta,
    )


def _packages(payload: object) -> Iterator[tuple[JsonObject, str, str]]:
    root = as_object(payload, "UPS response")
    errors = array(obj(root, "response", "$"), "errors", "$.response")
    if errors and "trackResponse" not in root:
        first = as_object(errors[0], "$.response.errors[0]")
        raise CarrierParseError(
            f"UPS error response {text(first, 'code', '$')}: {text(first, 'message', '$')}"
        )
    track = required_obj(root, "trackResponse", "$")
    for s_index, item in enumerate(array(track, "shipment", "$.trackResponse")):
        where = f"$.trackResponse.shipment[{s_index}]"
        shipment = as_object(item, where)
        inquiry = normalise_number(text(shipment, "inquiryNumber", where))
        for p_index, package_item in enumerate(array(shipment, "package", where)):
            package_where = f"{where}.package[{p_index}]"
            package = as_object(package_item, package_where)
            number = normalise_number(text(package, "trackingNumber", package_where)) or inquiry
            if not number:
                raise CarrierParseError(f"{package_where}: no trackingNumber or inquiryNumber")
            yield package, package_where, number


def parse(payload: Any) -> list[ParsedEvent]:
    """Every activity of every package in a UPS Track API response, oldest first."""
    events: list[ParsedEvent] = []
    for package, where, number in _packages(payload):
        activities = array(package, "activity", where)
        first_location = Location()
        if activities:
            first_location = _location(as_object(activities[0], f"{where}.activity[0]"), where)
        eta = _package_eta(package, where, first_location)
        for index, item in enumerate(activities):
            activity_where = f"{where}.activity[{index}]"
            events.append(_event(as_object(item, activity_where), activity_where, number, eta))
    events.sort(key=lambda event: event.occurred_at)
    return events
