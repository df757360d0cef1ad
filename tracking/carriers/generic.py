"""Our own generic tracking webhook format (documented in docs/webhooks-generic.md).

For carriers and systems with no adapter of their own: the sender states the carrier, the
tracking number and a list of events, each in our status vocabulary (or with only its own code,
which is then kept unmapped). Being our format, it is strict: unknown statuses or reasons and
times without a UTC offset are errors, not guesses.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from tracking.carriers import local_time
from tracking.carriers.code_table import S
from tracking.carriers.payload import (
    JsonObject,
    as_object,
    country_alpha2,
    flag,
    obj,
    required_array,
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

SOURCE_KIND = "generic"
CODE_TABLE_VERSION = "generic-1"

_STATUSES = {status.value: status for status in ShipmentStatus}
_REASONS = {reason.value: reason for reason in ExceptionReason if reason.value}
# A code with no status says nothing of the milestone: keep it as in transit, unmapped.
_UNMAPPED_STATUS = S.IN_TRANSIT


def tracking_ref(payload: Any) -> tuple[str, str]:
    """(our carrier slug, normalised tracking number) of the document."""
    root = as_object(payload, "generic payload")
    number = normalise_number(required_text(root, "tracking_number", "$"))
    if not number:
        raise CarrierParseError("$.tracking_number: missing")
    return carrier_slug(required_text(root, "carrier", "$")), number


def event_id(payload: Any) -> str:
    """The sender's `event_id`, or a SHA-256 of the canonical document when it has none."""
    root = as_object(payload, "generic payload")
    given = text(root, "event_id", "$").strip()
    if given:
        return given
    try:
        canonical = json.dumps(root, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise CarrierParseError(f"$: not JSON-serialisable ({error})") from None
    return "generic_" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _aware(value: str, where: str) -> datetime:
    moment = local_time.parse_timestamp(value, where)
    if datetime.fromisoformat(value.strip()).tzinfo is None:
        raise CarrierParseError(f"{where}: needs a UTC offset, e.g. 2026-11-20T14:03:00+09:00")
    return moment


def _event(item: JsonObject, where: str, carrier: str, number: str) -> ParsedEvent:
    status_text = text(item, "status", where).strip().lower()
    code = text(item, "code", where).strip()
    if not status_text and not code:
        raise CarrierParseError(f"{where}: give a status, a code, or both")
    if status_text and status_text not in _STATUSES:
        raise CarrierParseError(
            f"{where}.status: unknown {status_text!r} (one of {', '.join(_STATUSES)})"
        )
    reason_text = text(item, "reason", where).strip().lower()
    if reason_text and reason_text not in _REASONS:
        raise CarrierParseError(
            f"{where}.reason: unknown {reason_text!r} (one of {', '.join(_REASONS)})"
        )
    place = obj(item, "location", where)
    here = f"{where}.location"
    eta_text = text(item, "estimated_delivery", where)
    return ParsedEvent(
        carrier=carrier,
        tracking_number=number,
        occurred_at=_aware(text(item, "occurred_at", where), f"{where}.occurred_at"),
        status=_STATUSES[status_text] if status_text else _UNMAPPED_STATUS,
        carrier_code=code or status_text,
        carrier_text=text(item, "text", where),
        reason=_REASONS.get(reason_text, ExceptionReason.NONE),
        action_required=flag(item, "action_required", where),
        location=Location(
            city=text(place, "city", here).strip(),
            region=text(place, "region", here).strip(),
            postcode=text(place, "postcode", here).strip(),
            country=country_alpha2(text(place, "country", here)),
        ),
        mapped=bool(status_text),
        mapping_version=CODE_TABLE_VERSION,
        estimated_delivery=_aware(eta_text, f"{where}.estimated_delivery") if eta_text else None,
    )


def parse(payload: Any) -> list[ParsedEvent]:
    """The events of a generic tracking document, oldest first."""
    root = as_object(payload, "generic payload")
    carrier, number = tracking_ref(root)
    events = [
        _event(as_object(item, f"$.events[{i}]"), f"$.events[{i}]", carrier, number)
        for i, item in enumerate(required_array(root, "events", "$"))
    ]
    events.sort(key=lambda event: event.occurred_at)
    return events
