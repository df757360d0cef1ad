"""Shippo `track_updated` webhooks to our events.

Shape: `{event: "track_updated", test, data: Track}`; the Track has `carrier`, `tracking_number`,
`eta`, `tracking_status` and `tracking_history[]`, each status with `status` (PRE_TRANSIT,
TRANSIT, DELIVERED, RETURNED, FAILURE, UNKNOWN), `substatus` (`code`, `text`,
`action_required`), `status_details`, `status_date` and `location`.

Shippo sends no event id, so `event_id` is a SHA-256 of the tracking reference and its latest
status (code, substatus and date): a re-delivery of the same update hashes the same, a new
checkpoint hashes differently. The milestone comes from `status`; the substatus refines it within
TRANSIT, FAILURE and UNKNOWN and gives the reason; Shippo's own `action_required` is honoured.
`carrier_code` is the substatus code, or the status when there is none.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from tracking.carriers import local_time
from tracking.carriers.code_table import CodeMapping, CodeTable, R, S, mapping
from tracking.carriers.payload import (
    JsonObject,
    array,
    as_object,
    country_alpha2,
    flag,
    obj,
    required_obj,
    required_text,
    text,
)
from tracking.domain import CarrierParseError, Location, ParsedEvent
from tracking.tracking_numbers import carrier_slug, normalise_number

SOURCE_KIND = "aggregator"
CODE_TABLE_VERSION = "shippo-2026.11"

# `status` (Shippo API "Tracking status").
STATUS_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "PRE_TRANSIT": mapping(S.INFO_RECEIVED),
        "TRANSIT": mapping(S.IN_TRANSIT),
        "DELIVERED": mapping(S.DELIVERED),
        "RETURNED": mapping(S.RETURNED_TO_SENDER),
        "FAILURE": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        # UNKNOWN is Shippo saying it could not map the carrier's status: kept unmapped.
    },
    fallback=mapping(S.IN_TRANSIT),
)

# `substatus.code` (Shippo "Tracking substatus" list).
SUBSTATUS_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "information_received": mapping(S.INFO_RECEIVED),
        "pickup_available": mapping(S.INFO_RECEIVED),
        "address_issue": mapping(S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT, action=True),
        "contact_carrier": mapping(S.EXCEPTION, R.OTHER, action=True),
        "delayed": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        "delivery_attempted": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),
        "delivery_rescheduled": mapping(S.IN_TRANSIT),
        "delivery_scheduled": mapping(S.IN_TRANSIT),
        "location_inaccessible": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),
        "notice_left": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, action=True),
        "out_for_delivery": mapping(S.OUT_FOR_DELIVERY),
        "package_accepted": mapping(S.IN_TRANSIT),
        "package_arrived": mapping(S.IN_TRANSIT),
        "package_damaged": mapping(S.EXCEPTION, R.CARRIER_DAMAGED),
        "package_departed": mapping(S.IN_TRANSIT),
        "package_forwarded": mapping(S.IN_TRANSIT),
        "package_held": mapping(S.EXCEPTION, R.OTHER),
        "package_processed": mapping(S.IN_TRANSIT),
        "package_processing": mapping(S.IN_TRANSIT),
        "package_disposed": mapping(S.EXCEPTION, R.CARRIER_LOST),
        "package_lost": mapping(S.EXCEPTION, R.CARRIER_LOST),
        "package_unclaimed": mapping(S.RETURNING_TO_SENDER),
        "package_undeliverable": mapping(S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT),
        "pickup_available_at_location": mapping(S.AVAILABLE_FOR_PICKUP, action=True),
        "reschedule_delivery": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME, action=True),
        "return_to_sender": mapping(S.RETURNING_TO_SENDER),
        "delivered": mapping(S.DELIVERED),
        "return_delivered": mapping(S.RETURNED_TO_SENDER),
        "customs_hold": mapping(S.EXCEPTION, R.CUSTOMS_DELAY),
        "customs_documents_required": mapping(S.EXCEPTION, R.CUSTOMS_DOCUMENTS, action=True),
        "customs_payment_required": mapping(S.EXCEPTION, R.CUSTOMS_DUTIES_UNPAID, action=True),
        "weather_delay": mapping(S.EXCEPTION, R.WEATHER),
        "other": mapping(S.IN_TRANSIT),
    },
    fallback=mapping(S.IN_TRANSIT),
)

# Statuses a substatus may refine; DELIVERED, RETURNED and PRE_TRANSIT stand as Shippo set them.
_REFINABLE = {"TRANSIT", "FAILURE", "UNKNOWN"}


def _number(raw: str) -> str:
    number = normalise_number(raw)
    if not number:
        raise CarrierParseError("tracking number: only spaces and separators")
    return number


def _track(payload: object) -> JsonObject:
    return required_obj(as_object(payload, "Shippo payload"), "data", "$")


def tracking_ref(payload: Any) -> tuple[str, str]:
    """(our carrier slug, tracking number) of the track in the webhook."""
    track = _track(payload)
    return (
        carrier_slug(required_text(track, "carrier", "$.data")),
        _number(required_text(track, "tracking_number", "$.data")),
    )


def event_id(payload: Any) -> str:
    """A stable id for one Shippo update: Shippo sends none (see module docstring)."""
    carrier, number = tracking_ref(payload)
    latest = obj(_track(payload), "tracking_status", "$.data")
    substatus = obj(latest, "substatus", "$.data.tracking_status")
    key = [
        carrier,
        number,
        text(latest, "object_id", "$.data.tracking_status"),
        text(latest, "status", "$.data.tracking_status"),
        text(substatus, "code", "$.data.tracking_status.substatus"),
        text(latest, "status_date", "$.data.tracking_status"),
        len(array(_track(payload), "tracking_history", "$.data")),
    ]
    digest = hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()
    return f"shippo_{digest[:40]}"


def _mapping(status: str, substatus_code: str, shippo_action: bool) -> tuple[CodeMapping, bool]:
    lookup = STATUS_TABLE.lookup(status)
    found, mapped = lookup.mapping, lookup.mapped
    refined = SUBSTATUS_TABLE.get(substatus_code) if substatus_code else None
    if refined is not None:
        mapped = True
        adds_reason = refined.reason is not R.NONE and found.status is refined.status
        if status.upper() in _REFINABLE or not lookup.mapped or adds_reason:
            found = refined
    # Shippo's flag is honoured except on a delivery, where there is nothing left to do.
    if shippo_action and not found.action_required and found.status is not S.DELIVERED:
        found = CodeMapping(found.status, found.reason, True)
    return found, mapped


def _event(
    item: JsonObject, where: str, carrier: str, number: str, eta: datetime | None
) -> ParsedEvent:
    status = text(item, "status", where).strip()
    substatus = obj(item, "substatus", where)
    code = text(substatus, "code", f"{where}.substatus").strip()
    if not status and not code:
        raise CarrierParseError(f"{where}: no status or substatus")
    found, mapped = _mapping(status, code, flag(substatus, "action_required", f"{where}.substatus"))
    place = obj(item, "location", where)
    here = f"{where}.location"
    location = Location(
        city=text(place, "city", here).strip(),
        region=text(place, "state", here).strip(),
        postcode=text(place, "zip", here).strip(),
        country=country_alpha2(text(place, "country", here)),
    )
    return ParsedEvent(
        carrier=carrier,
        tracking_number=number,
        occurred_at=local_time.parse_timestamp(
            text(item, "status_date", where), f"{where}.status_date", location=location
        ),
        status=found.status,
        carrier_code=code or status,
        carrier_text=text(item, "status_details", where) or text(substatus, "text", where),
        reason=found.reason,
        action_required=found.action_required,
        location=location,
        mapped=mapped,
        mapping_version=CODE_TABLE_VERSION,
        estimated_delivery=eta,
    )


def parse(payload: Any) -> list[ParsedEvent]:
    """Every status in the track's history (plus the current one if newer), oldest first."""
    track = _track(payload)
    carrier, number = tracking_ref(payload)
    eta_text = text(track, "eta", "$.data")
    eta = local_time.parse_timestamp(eta_text, "$.data.eta") if eta_text else None
    items = [
        (f"$.data.tracking_history[{i}]", x)
        for i, x in enumerate(array(track, "tracking_history", "$.data"))
    ]
    if track.get("tracking_status") is not None:
        items.append(("$.data.tracking_status", track["tracking_status"]))
    events: dict[tuple[datetime, str, str], ParsedEvent] = {}
    for where, item in items:
        event = _event(as_object(item, where), where, carrier, number, eta)
        # The current status usually repeats the last history entry: keep one.
        events.setdefault((event.occurred_at, event.carrier_code, event.carrier_text), event)
    return sorted(events.values(), key=lambda event: event.occurred_at)
