"""When to ask a carrier about a shipment again, by where the parcel is.

Near delivery we look often (out for delivery, due today), moving parcels every couple of hours,
parcels at rest or not yet moving rarely; finished shipments are not polled. Every interval is
spread with jitter so shipments created together do not poll together.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from django.conf import settings

from tracking.domain import ShipmentStatus

FINISHED = frozenset(
    {
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RETURNED_TO_SENDER,
        ShipmentStatus.CANCELLED,
        ShipmentStatus.EXPIRED,
    }
)
NEAR_DELIVERY = frozenset({ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.ATTEMPT_FAILED})
MOVING = frozenset(
    {
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.RETURNING_TO_SENDER,
    }
)


def poll_interval(*, status: str, due_date: date | None, today: date) -> timedelta | None:
    """The base wait before the next poll, or None when the shipment is finished."""
    if status in FINISHED:
        return None
    if status in NEAR_DELIVERY or (due_date is not None and due_date <= today):
        return settings.TRACKING_POLL_NEAR_DELIVERY
    if status in MOVING:
        return settings.TRACKING_POLL_IN_TRANSIT
    # pending, info received, waiting at a pickup point: at rest.
    return settings.TRACKING_POLL_AT_REST


def with_jitter(interval: timedelta) -> timedelta:
    """Spread an interval by up to +/- TRACKING_POLL_JITTER (a fraction) so load stays even."""
    spread = settings.TRACKING_POLL_JITTER
    return interval * (1 + random.uniform(-spread, spread))  # noqa: S311 - load spreading


def next_check_at(
    *, status: str, due_date: date | None, now: datetime, failures: int = 0
) -> datetime | None:
    """The time of the next poll; failures back off exponentially up to a day."""
    interval = poll_interval(status=status, due_date=due_date, today=now.date())
    if interval is None:
        return None
    if failures:
        interval = min(interval * (2**failures), settings.TRACKING_POLL_MAX_BACKOFF)
    return now + with_jitter(interval)
