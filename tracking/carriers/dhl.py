"""DHL Shipment Tracking - Unified API (`GET /track/shipments?trackingNumber=`) to our events.

Shape: `shipments[]`, each with `id`, `status`, `events[]` and `estimatedTimeOfDelivery`. An event
has `timestamp` (local time, usually without offset), `location.address` (`addressLocality`,
`postalCode`, `countryCode`), the unified `statusCode` (pre-transit, transit, delivered, failure,
unknown, which is kept unmapped so ops see it), a short `status`, a `description` and a
`remark`. The unified code is coarse, so the texts refine it (out for delivery, ready for
pickup, returned, the reason of a failure).
`carrier_code` is `statusCode`; `carrier_text` is the description (or status when absent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracking.carriers import local_time
from tracking.carriers.code_table import CodeMapping, CodeTable, R, S, mapping
from tracking.carriers.payload import JsonObject, array, as_object, obj, required_array, text
from tracking.carriers.reason_hints import reason_from_text
from tracking.domain import CarrierParseError, Location, ParsedEvent
from tracking.tracking_numbers import normalise_number

SOURCE_KIND = "carrier_api"
CARRIER = "dhl"
CODE_TABLE_VERSION = "dhl-2026.11"

# Unified `statusCode` (DHL Shipment Tracking - Unified API, "Status codes").
CODE_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "pre-transit": mapping(S.INFO_RECEIVED),
        "transit": mapping(S.IN_TRANSIT),
        "delivered": mapping(S.DELIVERED),
        "failure": mapping(S.EXCEPTION, R.CARRIER_OTHER),
    },
    fallback=mapping(S.IN_TRANSIT),
)

# Phrases in `status`/`description` that refine a transit or failure event, first match wins.
_TEXT_REFINEMENTS: tuple[tuple[str, CodeMapping], ...] = (
    ("returned to sender", mapping(S.RETURNED_TO_SENDER)),
    ("returned to shipper", mapping(S.RETURNED_TO_SENDER)),
    ("return to sender", mapping(S.RETURNING_TO_SENDER)),
    ("return to shipper", mapping(S.RETURNING_TO_SENDER)),
    ("being returned", mapping(S.RETURNING_TO_SENDER)),
    ("out for delivery", mapping(S.OUT_FOR_DELIVERY)),
    ("with delivery courier", mapping(S.OUT_FOR_DELIVERY)),
    ("out with courier for delivery", mapping(S.OUT_FOR_DELIVERY)),
    ("loaded onto the delivery vehicle", mapping(S.OUT_FOR_DELIVERY)),
    ("ready for pickup", mapping(S.AVAILABLE_FOR_PICKUP, action=True)),
    ("ready for collection", mapping(S.AVAILABLE_FOR_PICKUP, action=True)),
    ("available for pickup", mapping(S.AVAILABLE_FOR_PICKUP, action=True)),
    ("awaiting collection", mapping(S.AVAILABLE_FOR_PICKUP, action=True)),
    ("delivery attempt", mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME)),
    ("could not be delivered", mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME)),
    ("recipient not", mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME)),
    ("shipment cancelled", mapping(S.CANCELLED)),
)


def _location(holder: JsonObject, where: str) -> Location:
    address = obj(obj(holder, "location", where), "address", f"{where}.location")
    here = f"{where}.location.address"
    return Location(
        city=text(address, "addressLocality", here).strip(),
        region=text(address, "addressRegion", here).strip(),
        postcode=text(address, "postalCode", here).strip(),
        country=text(address, "countryCode", here).strip(),
    )


def _refine(found: CodeMapping, code: str, texts: tuple[str, ...]) -> CodeMapping:
    if code.lower() == "delivered":
        return found
    haystack = " ".join(texts).casefold()
    for phrase, refined in _TEXT_REFINEMENTS:
        if phrase in haystack:
            found = refined
            break
    if found.status in {S.EXCEPTION, S.ATTEMPT_FAILED}:
        hint = reason_from_text(*texts)
        if hint is not None:
            return CodeMapping(found.status, hint[0], found.action_required or hint[1])
    return found


def _eta(shipment: JsonObject, where: str) -> datetime | None:
    value = text(shipment, "estimatedTimeOfDelivery", where)
    if not value:
        frame = obj(shipment, "estimatedDeliveryTimeFrame", where)
        value = text(frame, "estimatedThrough", f"{where}.estimatedDeliveryTimeFrame")
    return local_time.parse_timestamp(value, f"{where}.estimatedTimeOfDelivery") if value else None


def _event(item: JsonObject, where: str, number: str, eta: datetime | None) -> ParsedEvent:
    code = text(item, "statusCode", where).strip()
    status_text = text(item, "status", where)
    description = text(item, "description", where)
    remark = text(item, "remark", where)
    if not (code or status_text or description):
        raise CarrierParseError(f"{where}: no statusCode, status or description")
    lookup = CODE_TABLE.lookup(code)
    found = _refine(lookup.mapping, code, (status_text, description, remark))
    location = _location(item, where)
    return ParsedEvent(
        carrier=CARRIER,
        tracking_number=number,
        occurred_at=local_time.parse_timestamp(
            text(item, "timestamp", where), f"{where}.timestamp", location=location
        ),
        status=found.status,
        carrier_code=code,
        carrier_text=description or status_text,
        reason=found.reason,
        action_required=found.action_required,
        location=location,
        mapped=lookup.mapped,
        mapping_version=CODE_TABLE_VERSION,
        estimated_delivery=eta,
    )


def parse(payload: Any) -> list[ParsedEvent]:
    """Every event of every shipment in a DHL unified tracking response, oldest first."""
    root = as_object(payload, "DHL response")
    if "shipments" not in root and ("status" in root or "title" in root):
        # RFC 7807 problem document: {"title": "No shipment with given tracking number found.", ...}
        raise CarrierParseError(
            f"DHL error response {text(root, 'status', '$')}: {text(root, 'title', '$')}"
        )
    events: list[ParsedEvent] = []
    for s_index, item in enumerate(required_array(root, "shipments", "$")):
        where = f"$.shipments[{s_index}]"
        shipment = as_object(item, where)
        number = normalise_number(text(shipment, "id", where))
        if not number:
            raise CarrierParseError(f"{where}.id: missing")
        scans = array(shipment, "events", where)
        eta = _eta(shipment, where) if scans else None
        for index, scan in enumerate(scans):
            scan_where = f"{where}.events[{index}]"
            events.append(_event(as_object(scan, scan_where), scan_where, number, eta))
    events.sort(key=lambda event: event.occurred_at)
    return events
