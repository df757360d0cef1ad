"""Helpers shared by the ingest tests: parsed events and published-event counts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from postpurchase.models import DomainEvent
from tracking.domain import ExceptionReason, Location, ParsedEvent, ShipmentStatus


def scan(
    shipment,
    when: str,
    status: ShipmentStatus,
    code: str = "",
    *,
    reason: ExceptionReason = ExceptionReason.NONE,
    action_required: bool = False,
    city: str = "Louisville",
    mapped: bool = True,
) -> ParsedEvent:
    """A parsed scan of `shipment` at `when` (ISO time, UTC when no offset is given)."""
    at = datetime.fromisoformat(when)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return ParsedEvent(
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        occurred_at=at,
        status=status,
        carrier_code=code or status.value.upper(),
        carrier_text=f"{status.label} at {city}",
        reason=reason,
        action_required=action_required,
        location=Location(city=city, region="KY", postcode="40201", country="US"),
        mapped=mapped,
        mapping_version="test-1",
    )


def published(merchant=None) -> Counter[str]:
    """How many domain events of each type were published (for one merchant when given)."""
    events = DomainEvent.objects.all()
    if merchant is not None:
        events = events.filter(merchant=merchant)
    return Counter(events.values_list("type", flat=True))
