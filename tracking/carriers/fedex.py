"""FedEx Track API v1 (`POST /track/v1/trackingnumbers`) responses to our events.

Shape: `output.completeTrackResults[].trackResults[]`, each with `trackingNumberInfo`,
`scanEvents[]` (ISO 8601 `date` with the scan's local offset, `eventType`, `derivedStatusCode`,
`eventDescription`, `exceptionCode`/`exceptionDescription`, `scanLocation`, `delayDetail`) and
`estimatedDeliveryTimeWindow`. A result carrying only an `error` (e.g. TRACKING.TRACKINGNUMBER.
NOTFOUND) has no events. `carrier_code` is the scan's `eventType`.
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
CARRIER = "fedex"
CODE_TABLE_VERSION = "fedex-2026.11"

# Scan `eventType` and `derivedStatusCode` codes (FedEx Track API "Tracking Status Codes"; IN,
# "initiated", is a derived code).
CODE_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "OC": mapping(S.INFO_RECEIVED),  # shipment information sent to FedEx
        "IN": mapping(S.INFO_RECEIVED),  # initiated
        "OX": mapping(S.INFO_RECEIVED),  # shipment information sent to USPS
        "PU": mapping(S.IN_TRANSIT),  # picked up
        "PX": mapping(S.IN_TRANSIT),  # picked up (see details)
        "AP": mapping(S.IN_TRANSIT),  # at pickup
        "EP": mapping(S.IN_TRANSIT),  # enroute to pickup
        "DS": mapping(S.IN_TRANSIT),  # vehicle dispatched
        "DR": mapping(S.IN_TRANSIT),  # vehicle furnished but not used
        "AA": mapping(S.IN_TRANSIT),  # at airport
        "AC": mapping(S.IN_TRANSIT),  # at Canada Post facility
        "AF": mapping(S.IN_TRANSIT),  # at local FedEx facility
        "AR": mapping(S.IN_TRANSIT),  # arrived at FedEx location
        "AX": mapping(S.IN_TRANSIT),  # at USPS facility
        "CH": mapping(S.IN_TRANSIT),  # location changed
        "DP": mapping(S.IN_TRANSIT),  # departed FedEx location
        "EO": mapping(S.IN_TRANSIT),  # enroute to origin airport
        "FD": mapping(S.IN_TRANSIT),  # at FedEx destination
        "IT": mapping(S.IN_TRANSIT),  # in transit
        "OW": mapping(S.IN_TRANSIT),  # on the way
        "AO": mapping(S.IN_TRANSIT),  # shipment arriving on time
        "IX": mapping(S.IN_TRANSIT),  # in transit (see details)
        "LO": mapping(S.IN_TRANSIT),  # left origin
        "OF": mapping(S.IN_TRANSIT),  # at FedEx origin facility
        "PF": mapping(S.IN_TRANSIT),  # plane in flight
        "PL": mapping(S.IN_TRANSIT),  # plane landed
        "PM": mapping(S.IN_TRANSIT),  # in progress
        "SF": mapping(S.IN_TRANSIT),  # at sort facility
        "SP": mapping(S.IN_TRANSIT),  # split status
        "TR": mapping(S.IN_TRANSIT),  # transfer
        "CC": mapping(S.IN_TRANSIT),  # cleared customs
        "CP": mapping(S.IN_TRANSIT),  # clearance in progress
        "EA": mapping(S.IN_TRANSIT),  # export approved
        "RR": mapping(S.IN_TRANSIT),  # delivery option requested
        "RM": mapping(S.IN_TRANSIT),  # delivery option modified
        "RC": mapping(S.IN_TRANSIT),  # delivery option cancelled
        "ED": mapping(S.OUT_FOR_DELIVERY),  # enroute to delivery
        "OD": mapping(S.OUT_FOR_DELIVERY),  # on FedEx vehicle for delivery
        "AD": mapping(S.OUT_FOR_DELIVERY),  # at delivery
        "DL": mapping(S.DELIVERED),
        "HL": mapping(S.AVAILABLE_FOR_PICKUP, action=True),  # hold at location
        "HP": mapping(S.AVAILABLE_FOR_PICKUP, action=True),  # ready for recipient pickup
        "DE": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),  # delivery exception
        "SE": mapping(S.EXCEPTION, R.CARRIER_OTHER),  # shipment exception
        "CD": mapping(S.EXCEPTION, R.CUSTOMS_DELAY),  # clearance delay
        "DD": mapping(S.EXCEPTION, R.CARRIER_OTHER),  # delivery delay
        "DY": mapping(S.EXCEPTION, R.CARRIER_OTHER),  # delay
        "PD": mapping(S.EXCEPTION, R.CARRIER_OTHER),  # pickup delay
        "CA": mapping(S.CANCELLED),  # shipment cancelled
        "RS": mapping(S.RETURNING_TO_SENDER),  # return to shipper
        "RD": mapping(S.CANCELLED),  # return label link expired
        "RP": mapping(S.INFO_RECEIVED),  # return label link emailed to return sender
        "LP": mapping(S.CANCELLED),  # return label link cancelled by originator
        "RG": mapping(S.INFO_RECEIVED),  # return label link expiring soon
    },
    fallback=mapping(S.IN_TRANSIT),
)

_DELAY_TYPES = {
    "WEATHER": R.WEATHER,
    "LOCAL_DELIVERY_RESTRICTION": R.CARRIER_OTHER,
    "OPERATIONAL": R.CARRIER_CAPACITY,
    "CLEARANCE": R.CUSTOMS_DELAY,
    "CUSTOMS": R.CUSTOMS_DELAY,
}


def _location(scan: JsonObject, where: str) -> Location:
    address = obj(scan, "scanLocation", where)
    here = f"{where}.scanLocation"
    return Location(
        city=text(address, "city", here).strip(),
        region=text(address, "stateOrProvinceCode", here).strip(),
        postcode=text(address, "postalCode", here).strip(),
        country=text(address, "countryCode", here).strip(),
    )


def _mapping_for(scan: JsonObject, where: str) -> tuple[CodeMapping, bool]:
    event_type = text(scan, "eventType", where).strip()
    derived = text(scan, "derivedStatusCode", where).strip()
    found = CODE_TABLE.get(event_type) if event_type else None
    if found is None and derived:
        found = CODE_TABLE.get(derived)
    if found is None:
        return CODE_TABLE.fallback, False
    if found.status in {S.EXCEPTION, S.ATTEMPT_FAILED}:
        hint = reason_from_text(text(scan, "exceptionDescription", where))
        if hint is not None:
            found = CodeMapping(found.status, hint[0], found.action_required or hint[1])
    delay = obj(scan, "delayDetail", where)
    delay_type = text(delay, "type", f"{where}.delayDetail").upper()
    if found.status is S.EXCEPTION and delay_type in _DELAY_TYPES:
        found = CodeMapping(found.status, _DELAY_TYPES[delay_type], found.action_required)
    return found, True


def _eta(result: JsonObject, where: str) -> datetime | None:
    window = obj(obj(result, "estimatedDeliveryTimeWindow", where), "window", where)
    for key in ("ends", "begins"):
        value = text(window, key, f"{where}.estimatedDeliveryTimeWindow.window")
        if value:
            return local_time.parse_timestamp(value, f"{where}.estimatedDeliveryTimeWindow")
    for index, item in enumerate(array(result, "dateAndTimes", where)):
        entry = as_object(item, f"{where}.dateAndTimes[{index}]")
        if text(entry, "type", where) in {
            "ESTIMATED_DELIVERY",
            "COMMITMENT",
            "APPOINTMENT_DELIVERY",
        }:
            value = text(entry, "dateTime", where)
            if value:
                return local_time.parse_timestamp(value, f"{where}.dateAndTimes[{index}]")
    return None


def _event(scan: JsonObject, where: str, number: str, eta: datetime | None) -> ParsedEvent:
    code = text(scan, "eventType", where).strip() or text(scan, "derivedStatusCode", where).strip()
    if not code:
        raise CarrierParseError(f"{where}: no eventType or derivedStatusCode")
    description = text(scan, "eventDescription", where) or text(scan, "derivedStatus", where)
    exception = text(scan, "exceptionDescription", where)
    found, mapped = _mapping_for(scan, where)
    location = _location(scan, where)
    return ParsedEvent(
        carrier=CARRIER,
        tracking_number=number,
        occurred_at=local_time.parse_timestamp(
            text(scan, "date", where), f"{where}.date", location=location
        ),
        status=found.status,
        carrier_code=code,
        carrier_text=f"{description} - {exception}" if exception else description,
        reason=found.reason,
        action_required=found.action_required,
        location=location,
        mapped=mapped,
        mapping_version=CODE_TABLE_VERSION,
        estimated_delivery=eta,
    )


def _results(payload: object) -> Iterator[tuple[JsonObject, str, str]]:
    root = as_object(payload, "FedEx response")
    errors = array(root, "errors", "$")
    if errors and "output" not in root:
        first = as_object(errors[0], "$.errors[0]")
        raise CarrierParseError(
            f"FedEx error response {text(first, 'code', '$')}: {text(first, 'message', '$')}"
        )
    output = required_obj(root, "output", "$")
    for c_index, item in enumerate(array(output, "completeTrackResults", "$.output")):
        where = f"$.output.completeTrackResults[{c_index}]"
        complete = as_object(item, where)
        requested = normalise_number(text(complete, "trackingNumber", where))
        for r_index, result_item in enumerate(array(complete, "trackResults", where)):
            result_where = f"{where}.trackResults[{r_index}]"
            result = as_object(result_item, result_where)
            info = obj(result, "trackingNumberInfo", result_where)
            number = normalise_number(text(info, "trackingNumber", result_where)) or requested
            if not number:
                raise CarrierParseError(f"{result_where}: no trackingNumber")
            yield result, result_where, number


def parse(payload: Any) -> list[ParsedEvent]:
    """Every scan event of every result in a FedEx Track API response, oldest first."""
    events: list[ParsedEvent] = []
    for result, where, number in _results(payload):
        scans = array(result, "scanEvents", where)
        eta = _eta(result, where) if scans else None
        for index, item in enumerate(scans):
            scan_where = f"{where}.scanEvents[{index}]"
            events.append(_event(as_object(item, scan_where), scan_where, number, eta))
    events.sort(key=lambda event: event.occurred_at)
    return events
