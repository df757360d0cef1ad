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
from tracking.domain import CarrierParseError, ExceptionReason, Location, ParsedEvent
from tracking.tracking_numbers import normalise_number

SOURCE_KIND = "carrier_api"
CARRIER = "ups"
CODE_TABLE_VERSION = "ups-2026.11"

_IN_TRANSIT = mapping(S.IN_TRANSIT)
_PRE_TRANSIT = mapping(S.INFO_RECEIVED)
_OUT = mapping(S.OUT_FOR_DELIVERY)
_DELAY = mapping(S.EXCEPTION, R.CARRIER_OTHER)
_WEATHER = mapping(S.EXCEPTION, R.WEATHER)
_ATTEMPT = mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME)
_PICKUP = mapping(S.AVAILABLE_FOR_PICKUP, action=True)
_RETURNING = mapping(S.RETURNING_TO_SENDER)
_CLEARANCE_INFO = mapping(S.EXCEPTION, R.CUSTOMS_DOCUMENTS, action=True)


def _codes(listed: str) -> tuple[int, ...]:
    """Status codes from "3 5 100-116" (ranges inclusive), to keep the long lists readable."""
    codes: list[int] = []
    for item in listed.split():
        first, _, last = item.partition("-")
        codes.extend(range(int(first), int(last or first) + 1))
    return tuple(codes)


# Activity `status.type` (UPS Tracking API "Package Activity Types"; P is the pickup type of the
# older Track API, still sent).
TYPE_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "M": _PRE_TRANSIT,  # billing information received (label created)
        "MV": mapping(S.CANCELLED),  # billing information voided
        "P": _IN_TRANSIT,  # pickup
        "I": _IN_TRANSIT,  # in transit, out for delivery (the status code tells which)
        "D": mapping(S.DELIVERED),
        "X": _DELAY,  # exception (the activity code and text tell why)
        "DO": _IN_TRANSIT,  # freight: delivered origin CFS
        "DD": _IN_TRANSIT,  # freight: delivered destination CFS
        "W": _IN_TRANSIT,  # freight: warehousing
        "NA": _IN_TRANSIT,  # not available
        "U": _IN_TRANSIT,  # updates (Track Alert API)
    },
    fallback=_IN_TRANSIT,
)

# `status.statusCode` (UPS Tracking API "Status/Description Codes"), keyed zero-padded to three
# digits as the API sends them ("011"); the documentation lists them unpadded.
STATUS_CODE_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        f"{code:03d}": found
        for codes, found in (
            ((3, 43, 44, 45, 65, 77, 79, 80, 131, 135, 157, 166), _PRE_TRANSIT),
            ((7,), mapping(S.CANCELLED)),  # shipment information voided
            (
                _codes(
                    "0 5 10 12 14 16 18 19 20 25 27 28 38 39 41 42 47 54 55 56 57 63 70 71 73"
                    " 74 75 82 84 87 88 92 94 95 96 97 98 99 100-116 120 121 122 133 134 136"
                    " 128 137 138 142 148 153 154 158 159 160 163 164 165 167 168 169"
                ),
                _IN_TRANSIT,
            ),
            ((6, 21, 37, 72, 78, 89, 91, 146, 162), _OUT),
            ((11, 26, 143, 155, 156), mapping(S.DELIVERED)),
            ((17, 40, 144, 161), _PICKUP),
            ((22, 23, 60, 66, 145), _ATTEMPT),
            ((24,), mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, action=True)),  # final
            ((61,), mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, action=True)),  # signature
            ((62, 85), mapping(S.ATTEMPT_FAILED, R.OTHER, action=True)),  # funds / COD
            ((13, 30, 46, 48, 69, 76, 86, 90, 132), _DELAY),
            ((29, 49, 139), mapping(S.EXCEPTION, R.OTHER, action=True)),
            ((32, 51, 52, 53), _WEATHER),
            ((50,), mapping(S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT, action=True)),
            ((58, 124, 125, 141), _CLEARANCE_INFO),
            ((123, 126), mapping(S.EXCEPTION, R.CUSTOMS_DELAY)),  # broker / agency release
            ((59,), mapping(S.EXCEPTION, R.CARRIER_DAMAGED)),
            ((64,), mapping(S.EXCEPTION, R.CONSIGNEE_REFUSED)),
            ((68, 93, 127, 129, 130, 140), mapping(S.EXCEPTION, R.CARRIER_LOST)),
            ((83,), mapping(S.EXCEPTION, R.OTHER)),  # held
            ((147,), mapping(S.EXCEPTION, R.OTHER)),  # seized by law enforcement
            ((149,), mapping(S.EXCEPTION, R.RETAILER)),  # prohibited contents, destroyed
            ((33, 35, 36, 67, 117, 118, 119), _RETURNING),
            ((81,), mapping(S.RETURNING_TO_SENDER, R.CARRIER_DAMAGED)),
            ((34,), mapping(S.RETURNED_TO_SENDER)),
        )
        for code in codes
    },
    fallback=_IN_TRANSIT,
)

# Activity `status.code` of exceptions (UPS Tracking API "Package Exceptions"): the reason.
EXCEPTION_REASONS: dict[str, tuple[ExceptionReason, bool]] = {
    **dict.fromkeys(
        ("1", "3", "4", "8", "11", "17", "18", "19", "22", "31", "1K", "1Q"),
        (R.CARRIER_OTHER, False),
    ),
    **dict.fromkeys(("6", "7", "34"), (R.CARRIER_MISSORTED, False)),
    **dict.fromkeys(("15", "16", "23", "68", "1O"), (R.CARRIER_VEHICLE, False)),
    **dict.fromkeys(("13", "24", "25", "45", "64", "65", "66", "67"), (R.CARRIER_DAMAGED, False)),
    **dict.fromkeys(("26", "27"), (R.CARRIER_LOST, False)),
    **dict.fromkeys(("5", "1U"), (R.CUSTOMS_DELAY, False)),
    **dict.fromkeys(("29", "1W"), (R.CUSTOMS_DOCUMENTS, True)),  # receiver asked for clearance info
    **dict.fromkeys(("40", "43", "71", "33", "60", "73"), (R.RETAILER, False)),  # sender's doing
    "1C": (R.CUSTOMS_DUTIES_UNPAID, True),  # import charges due
    **dict.fromkeys(("48", "49"), (R.CONSIGNEE_NOT_HOME, False)),
    **dict.fromkeys(("51", "52"), (R.OTHER, True)),  # payment could not be collected
    "55": (R.CONSIGNEE_BUSINESS_CLOSED, False),
    "95": (R.OTHER, True),  # security access needed
    "1E": (R.WEATHER, False),
    "1G": (R.CARRIER_CAPACITY, False),
}


def _mapping(
    type_code: str, status_code: str, activity_code: str, text_: str
) -> CodeMapping | None:
    """The status code's meaning, else the type's; an exception's reason from its code or text."""
    padded = status_code.zfill(3) if status_code.isdigit() else status_code
    found = STATUS_CODE_TABLE.get(padded) if padded else None
    if found is None and type_code:
        found = TYPE_TABLE.get(type_code)
    if found is None or found.status not in {S.EXCEPTION, S.ATTEMPT_FAILED}:
        return found
    known = EXCEPTION_REASONS.get(activity_code) if type_code.upper() == "X" else None
    hint = known or reason_from_text(text_)
    if hint is None:
        return found
    return CodeMapping(found.status, hint[0], found.action_required or hint[1])


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
    found = _mapping(type_code, status_code, activity_code, description)
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
