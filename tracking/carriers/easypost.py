"""EasyPost `tracker.created` / `tracker.updated` webhook Events to our events.

Shape: an `Event` (`id`, `description`, `result`) whose `result` is a `Tracker` (`tracking_code`,
`carrier`, `status`, `status_detail`, `est_delivery_date`, `tracking_details[]`). Each tracking
detail has `status`, `status_detail`, `message`, `datetime`, the carrier's own `carrier_code`
and `tracking_location`. A bare Tracker object is accepted too (EasyPost's API returns one).

The milestone comes from `status`; `status_detail` refines it and gives the reason. `carrier` on
our events is the underlying carrier (EasyPost's "FedEx" -> "fedex") and `carrier_code` the
carrier's own code that EasyPost passes on (FedEx "AR", UPS "MP"), so the same scan from the
carrier's API and from EasyPost carry the same carrier, code, time and place and deduplicate.
Without a carrier code, `carrier_code` is the detail's `status_detail` (or `status` when that is
"unknown" or absent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracking.carriers import local_time
from tracking.carriers.code_table import CodeMapping, CodeTable, R, S, mapping
from tracking.carriers.payload import (
    JsonObject,
    array,
    as_object,
    country_alpha2,
    obj,
    required_text,
    text,
)
from tracking.domain import (
    CarrierParseError,
    ExceptionReason,
    Location,
    ParsedEvent,
    ShipmentStatus,
)
from tracking.tracking_numbers import carrier_slug, normalise_number

SOURCE_KIND = "aggregator"
CODE_TABLE_VERSION = "easypost-2026.11"

# Tracker / TrackingDetail `status` (EasyPost API reference, "Tracking statuses").
STATUS_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "pre_transit": mapping(S.INFO_RECEIVED),
        "in_transit": mapping(S.IN_TRANSIT),
        "out_for_delivery": mapping(S.OUT_FOR_DELIVERY),
        "delivered": mapping(S.DELIVERED),
        "available_for_pickup": mapping(S.AVAILABLE_FOR_PICKUP, action=True),
        "return_to_sender": mapping(S.RETURNING_TO_SENDER),
        "failure": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        "cancelled": mapping(S.CANCELLED),
        "error": mapping(S.EXCEPTION, R.OTHER),
    },
    fallback=mapping(S.IN_TRANSIT),
)

_KEEP = None  # a detail that only adds a reason keeps the status `status` gave

# `status_detail` (EasyPost "Tracking status details"): (status override or _KEEP, reason, action).
DETAIL_TABLE: dict[str, tuple[ShipmentStatus | None, ExceptionReason, bool]] = {
    "label_created": (_KEEP, R.NONE, False),
    "awaiting_information": (_KEEP, R.RETAILER, False),
    "received_at_origin_facility": (_KEEP, R.NONE, False),
    "departed_origin_facility": (_KEEP, R.NONE, False),
    "arrived_at_facility": (_KEEP, R.NONE, False),
    "departed_facility": (_KEEP, R.NONE, False),
    "in_transit": (_KEEP, R.NONE, False),
    "arrived_at_destination": (_KEEP, R.NONE, False),
    "received_at_destination_facility": (_KEEP, R.NONE, False),
    "transferred_to_destination_carrier": (_KEEP, R.NONE, False),
    "status_update": (_KEEP, R.NONE, False),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, R.NONE, False),
    "arrived_at_pickup_location": (S.AVAILABLE_FOR_PICKUP, R.NONE, True),
    "delivered": (S.DELIVERED, R.NONE, False),
    "address_correction": (_KEEP, R.CONSIGNEE_ADDRESS_INCORRECT, False),
    "delayed": (_KEEP, R.CARRIER_OTHER, False),
    "weather_delay": (_KEEP, R.WEATHER, False),
    "held": (_KEEP, R.OTHER, False),
    "missorted": (_KEEP, R.CARRIER_MISSORTED, False),
    "damaged": (S.EXCEPTION, R.CARRIER_DAMAGED, False),
    "lost": (S.EXCEPTION, R.CARRIER_LOST, False),
    "refused": (S.RETURNING_TO_SENDER, R.CONSIGNEE_REFUSED, False),
    "delivery_exception": (S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, False),
    "transit_exception": (S.EXCEPTION, R.CARRIER_OTHER, False),
    "location_inaccessible": (S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, False),
    "return": (S.RETURNING_TO_SENDER, R.NONE, False),
    "cancelled": (S.CANCELLED, R.NONE, False),
    "expired": (S.EXPIRED, R.NONE, False),
    "failure": (S.EXCEPTION, R.CARRIER_OTHER, False),
}


def _number(raw: str) -> str:
    number = normalise_number(raw)
    if not number:
        raise CarrierParseError("tracking number: only spaces and separators")
    return number


def _tracker(payload: object) -> JsonObject:
    root = as_object(payload, "EasyPost payload")
    if text(root, "object", "$") == "Tracker":
        return root
    if text(root, "object", "$") not in {"", "Event"}:
        raise CarrierParseError(
            f"$.object: expected Event or Tracker, got {text(root, 'object', '$')!r}"
        )
    result = obj(root, "result", "$")
    if not result:
        raise CarrierParseError("$.result: missing (not a tracker event)")
    if text(result, "object", "$.result") not in {"", "Tracker"}:
        raise CarrierParseError(
            f"$.result.object: expected Tracker, got {text(result, 'object', '$.result')!r}"
        )
    return result


def event_id(payload: Any) -> str:
    """EasyPost's Event `id` ("evt_..."), unique per delivery of a change."""
    root = as_object(payload, "EasyPost payload")
    return required_text(root, "id", "$")


def tracking_ref(payload: Any) -> tuple[str, str]:
    """(our carrier slug, tracking number) of the Tracker in the event."""
    tracker = _tracker(payload)
    carrier = required_text(tracker, "carrier", "$.result")
    return carrier_slug(carrier), _number(required_text(tracker, "tracking_code", "$.result"))


def _mapping(status: str, detail: str) -> tuple[CodeMapping, bool]:
    lookup = STATUS_TABLE.lookup(status)
    found = lookup.mapping
    known_detail = DETAIL_TABLE.get(detail)
    if known_detail is None:
        return found, lookup.mapped
    override, reason, action = known_detail
    status_now = override or found.status
    return CodeMapping(status_now, reason or found.reason, action or found.action_required), True


def _event(
    detail: JsonObject, where: str, carrier: str, number: str, eta: datetime | None
) -> ParsedEvent:
    status = text(detail, "status", where).strip()
    status_detail = text(detail, "status_detail", where).strip()
    if not status and not status_detail:
        raise CarrierParseError(f"{where}: no status or status_detail")
    found, mapped = _mapping(status, status_detail)
    place = obj(detail, "tracking_location", where)
    here = f"{where}.tracking_location"
    location = Location(
        city=text(place, "city", here).strip(),
        region=text(place, "state", here).strip(),
        postcode=text(place, "zip", here).strip(),
        country=country_alpha2(text(place, "country", here)),
    )
    own_code = text(detail, "carrier_code", where).strip()
    code = own_code or (status_detail if status_detail and status_detail != "unknown" else status)
    return ParsedEvent(
        carrier=carrier,
        tracking_number=number,
        occurred_at=local_time.parse_timestamp(
            text(detail, "datetime", where), f"{where}.datetime", location=location
        ),
        status=found.status,
        carrier_code=code,
        carrier_text=text(detail, "message", where) or text(detail, "description", where),
        reason=found.reason,
        action_required=found.action_required,
        location=location,
        mapped=mapped,
        mapping_version=CODE_TABLE_VERSION,
        estimated_delivery=eta,
    )


def parse(payload: Any) -> list[ParsedEvent]:
    """Every tracking detail of the Tracker in an EasyPost event, oldest first."""
    tracker = _tracker(payload)
    carrier, number = tracking_ref(tracker)
    eta_text = text(tracker, "est_delivery_date", "$.result")
    eta = local_time.parse_timestamp(eta_text, "$.result.est_delivery_date") if eta_text else None
    events = [
        _event(
            as_object(item, f"$.result.tracking_details[{i}]"),
            f"$.result.tracking_details[{i}]",
            carrier,
            number,
            eta,
        )
        for i, item in enumerate(array(tracker, "tracking_details", "$.result"))
    ]
    events.sort(key=lambda event: event.occurred_at)
    return events
