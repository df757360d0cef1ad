"""USPS Tracking v3 (`GET /tracking/v3/tracking/{trackingNumber}?expand=DETAIL`) to our events.

A payload is one tracking response or a list of them. Each `trackingEvents[]` item has
`eventCode`, `eventType` (the text), local `eventTimestamp`, `GMTTimestamp` and `GMTOffset`,
and `eventCity`/`eventState`/`eventZIP`/`eventCountry`. The local time gets `GMTOffset`; when
that is missing the UTC `GMTTimestamp` is used; failing both, the zone is derived from the
location. `carrier_code` is `eventCode`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tracking.carriers import local_time
from tracking.carriers.code_table import CodeMapping, CodeTable, R, S, mapping
from tracking.carriers.payload import JsonObject, array, as_array, as_object, text
from tracking.carriers.reason_hints import reason_from_text
from tracking.domain import CarrierParseError, Location, ParsedEvent
from tracking.tracking_numbers import normalise_number

SOURCE_KIND = "carrier_api"
CARRIER = "usps"
CODE_TABLE_VERSION = "usps-2026.11"

_NOT_HOME = mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, action=True)
_BAD_ADDRESS = mapping(S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT, action=True)

# `eventCode` values (USPS Web Tools / Tracking v3 "Tracking event codes").
CODE_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "GX": mapping(S.INFO_RECEIVED),  # shipping label created, USPS awaiting item
        "MA": mapping(S.INFO_RECEIVED),  # pre-shipment info sent to USPS
        "GC": mapping(S.INFO_RECEIVED),  # shipment received, package acceptance pending
        "03": mapping(S.IN_TRANSIT),  # USPS in possession of item / accepted
        "OA": mapping(S.IN_TRANSIT),  # accepted at USPS origin facility
        "PC": mapping(S.IN_TRANSIT),  # sorting complete
        "10": mapping(S.IN_TRANSIT),  # arrived at / processed through USPS facility
        "A1": mapping(S.IN_TRANSIT),  # arrived at USPS regional facility
        "T1": mapping(S.IN_TRANSIT),  # departed USPS regional facility
        "TL": mapping(S.IN_TRANSIT),  # in transit to next facility
        "SF": mapping(S.IN_TRANSIT),  # departed post office
        "L1": mapping(S.IN_TRANSIT),  # departed USPS facility
        "U1": mapping(S.IN_TRANSIT),  # in transit, arriving on time
        "NT": mapping(S.IN_TRANSIT),  # in transit, arriving late
        "06": mapping(S.IN_TRANSIT),  # forwarded
        "07": mapping(S.IN_TRANSIT),  # arrived at post office (arrival at unit)
        "42": mapping(S.IN_TRANSIT),  # USPS handoff to shipping partner
        "80": mapping(S.IN_TRANSIT),  # picked up by shipping partner
        "81": mapping(S.IN_TRANSIT),  # arrived at shipping partner facility
        "82": mapping(S.IN_TRANSIT),  # departed shipping partner facility
        "59": mapping(S.IN_TRANSIT),  # rescheduled to next delivery day
        "OF": mapping(S.OUT_FOR_DELIVERY),
        "01": mapping(S.DELIVERED),
        "17": mapping(S.DELIVERED),  # picked up at post office
        "43": mapping(S.DELIVERED),  # picked up
        "02": _NOT_HOME,  # notice left (no authorized recipient available)
        "52": _NOT_HOME,  # notice left (receptacle full / item oversized)
        "55": _NOT_HOME,  # notice left (no secure location available)
        "53": _NOT_HOME,  # notice left (receptacle blocked): "Delivery Attempt: Action Needed"
        "54": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),  # no access to delivery location
        "57": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),  # delivery attempted, no access
        "51": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_BUSINESS_CLOSED),  # business closed
        "14": mapping(S.AVAILABLE_FOR_PICKUP, action=True),  # arrival at pickup point
        "16": mapping(S.AVAILABLE_FOR_PICKUP, action=True),  # available for pickup
        "56": mapping(S.AVAILABLE_FOR_PICKUP, action=True),  # held at post office
        "04": mapping(S.RETURNING_TO_SENDER, R.CONSIGNEE_REFUSED),  # refused
        "05": _BAD_ADDRESS,  # undeliverable as addressed
        "21": _BAD_ADDRESS,  # no such number
        "22": _BAD_ADDRESS,  # insufficient address
        "23": _BAD_ADDRESS,  # moved, left no address
        "25": _BAD_ADDRESS,  # addressee unknown
        "26": _BAD_ADDRESS,  # vacant
        "08": mapping(S.EXCEPTION, R.CARRIER_MISSORTED),  # missent
        "15": mapping(S.EXCEPTION, R.CARRIER_MISSORTED),  # mis-shipped
        "11": mapping(S.EXCEPTION, R.CARRIER_LOST),  # dead letter
        "28": mapping(S.EXCEPTION, R.OTHER),  # deceased
        "44": mapping(S.CANCELLED),  # customer recall
        "09": mapping(S.RETURNING_TO_SENDER),  # return to sender
        "24": mapping(S.RETURNING_TO_SENDER),  # forward expired
        "27": mapping(S.RETURNING_TO_SENDER),  # unclaimed
        "29": mapping(S.RETURNING_TO_SENDER),  # return to sender, not picked up
        "31": mapping(S.RETURNING_TO_SENDER),  # return to sender, processed
        "RD": mapping(S.RETURNED_TO_SENDER),  # delivered to sender
    },
    fallback=mapping(S.IN_TRANSIT),
)


def _location(scan: JsonObject, where: str) -> Location:
    return Location(
        city=text(scan, "eventCity", where).strip(),
        region=text(scan, "eventState", where).strip(),
        postcode=text(scan, "eventZIP", where).strip(),
        country=text(scan, "eventCountry", where).strip() or "US",
    )


def _occurred_at(scan: JsonObject, where: str, location: Location) -> datetime:
    local = text(scan, "eventTimestamp", where)
    offset = text(scan, "GMTOffset", where)
    gmt = text(scan, "GMTTimestamp", where)
    if local and (offset or not gmt):
        zone = local_time.parse_offset(offset, f"{where}.GMTOffset") if offset else None
        return local_time.parse_timestamp(
            local, f"{where}.eventTimestamp", location=location, offset=zone
        )
    if gmt:
        # No offset for the local time: the UTC time is exact where a derived zone may not be.
        return local_time.parse_timestamp(gmt, f"{where}.GMTTimestamp").astimezone(UTC)
    raise CarrierParseError(f"{where}: no eventTimestamp or GMTTimestamp")


def _eta(response: JsonObject, where: str) -> datetime | None:
    for key in ("expectedDeliveryTimeStamp", "predictedDeliveryTimeStamp"):
        value = text(response, key, where)
        if value:
            return local_time.parse_timestamp(value, f"{where}.{key}")
    return None


def _event(scan: JsonObject, where: str, number: str, eta: datetime | None) -> ParsedEvent:
    code = text(scan, "eventCode", where).strip()
    description = text(scan, "eventType", where)
    if not code and not description:
        raise CarrierParseError(f"{where}: no eventCode or eventType")
    lookup = CODE_TABLE.lookup(code)
    found = lookup.mapping
    if lookup.mapped and found.status is S.EXCEPTION and found.reason is R.OTHER:
        hint = reason_from_text(description)
        if hint is not None:
            found = CodeMapping(found.status, hint[0], hint[1])
    location = _location(scan, where)
    return ParsedEvent(
        carrier=CARRIER,
        tracking_number=number,
        occurred_at=_occurred_at(scan, where, location),
        status=found.status,
        carrier_code=code,
        carrier_text=description,
        reason=found.reason,
        action_required=found.action_required,
        location=location,
        mapped=lookup.mapped,
        mapping_version=CODE_TABLE_VERSION,
        estimated_delivery=eta,
    )


def parse(payload: Any) -> list[ParsedEvent]:
    """Every tracking event of one USPS Tracking v3 response (or a list of them), oldest first."""
    responses = as_array(payload, "USPS response") if isinstance(payload, list) else [payload]
    events: list[ParsedEvent] = []
    for r_index, item in enumerate(responses):
        where = f"$[{r_index}]"
        response = as_object(item, where)
        if "error" in response and "trackingEvents" not in response:
            error = as_object(response["error"], f"{where}.error")
            raise CarrierParseError(
                f"USPS error response {text(error, 'code', where)}: {text(error, 'message', where)}"
            )
        number = normalise_number(text(response, "trackingNumber", where))
        if not number:
            raise CarrierParseError(f"{where}.trackingNumber: missing")
        scans = array(response, "trackingEvents", where)
        eta = _eta(response, where) if scans else None
        for index, scan in enumerate(scans):
            scan_where = f"{where}.trackingEvents[{index}]"
            events.append(_event(as_object(scan, scan_where), scan_where, number, eta))
    events.sort(key=lambda event: event.occurred_at)
    return events
