"""Polling carriers for shipments whose webhooks are quiet, and the no-scan sweeps.

`poll_due_claim` picks a bounded batch of shipments whose `next_check_at` has come (SKIP LOCKED,
so two schedulers never pick the same shipment), at most each carrier's per-minute budget and none
of a carrier paused by a `Retry-After`, and leases them (pushes `next_check_at` ahead) so a slow
poll is not picked twice. `shipments_poll` asks the carrier client, records the events and
schedules the next check by where the parcel is (`tracking.scheduling`); failures back off.
`shipments_sweep_quiet` flags moving parcels with no scan for TRACKING_STALLED_AFTER
(`shipment.stalled`) and expires shipments with no scan for TRACKING_EXPIRE_AFTER.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from postpurchase import outbox
from postpurchase.errors import PermanentIntegrationError, TransientIntegrationError
from tracking.domain import Lifecycle, ParsedEvent, ShipmentStatus
from tracking.models import CarrierPollState, EventSource, ScanOrigin, Shipment
from tracking.normalisation import (
    STATUS_CHANGED,
    ShipmentEvents,
    shipment_event_data,
    shipments_record_events,
)
from tracking.scheduling import FINISHED, next_check_at, with_jitter

logger = logging.getLogger(__name__)

# How long a claimed shipment is leased to its poll task before another run may pick it.
POLL_LEASE = timedelta(minutes=10)
MOVING_STATUSES = (
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.ATTEMPT_FAILED,
    ShipmentStatus.EXCEPTION,
    ShipmentStatus.RETURNING_TO_SENDER,
)
SWEEP_BATCH = 500
# Shipments waiting out a carrier's Retry-After resume spread over about this long.
RETRY_SPREAD = timedelta(minutes=2)
STALLED = "shipment.stalled"

Fetcher = Callable[[str], list[ParsedEvent]]


def pollable_carriers() -> dict[str, Fetcher]:
    """Carrier slug -> fetch(tracking_number) of every carrier with an HTTP client."""
    from tracking.carriers.clients import clients

    return {name: client.fetch for name, client in clients().items()}


def rate_per_minute(carrier: str) -> int:
    """How many of a carrier's shipments one scheduler run (each minute) may hand out.

    The carrier's request budget (CARRIER_API_RATE_LIMITS, enforced by its client across
    workers) bounds it, so a run never claims more than the carrier will answer.
    """
    limits = getattr(settings, "CARRIER_API_RATE_LIMITS", {})
    if carrier in limits:
        return max(1, int(float(limits[carrier]["rate_per_second"]) * 60))
    return settings.TRACKING_POLL_DEFAULT_RATE_PER_MINUTE


def poll_due_claim(*, now: datetime | None = None, carriers: Sequence[str]) -> dict[str, list[int]]:
    """Lease the shipments due for a poll, by carrier, within each carrier's budget."""
    now = now or timezone.now()
    paused = set(
        CarrierPollState.objects.filter(paused_until__gt=now).values_list("carrier", flat=True)
    )
    open_carriers = [c for c in carriers if c not in paused]
    if not open_carriers:
        return {}
    claimed: dict[str, list[int]] = defaultdict(list)
    with transaction.atomic():
        due = (
            Shipment.objects.select_for_update(skip_locked=True)
            .filter(
                # New shipments have never been checked: they are due at once.
                Q(next_check_at__lte=now)
                | Q(next_check_at__isnull=True, last_checked_at__isnull=True),
                carrier__in=open_carriers,
            )
            .exclude(status__in=FINISHED)
            .order_by(F("next_check_at").asc(nulls_first=True), "pk")
            .values_list("pk", "carrier")[: settings.TRACKING_POLL_BATCH]
        )
        for pk, carrier in due:
            if len(claimed[carrier]) < rate_per_minute(carrier):
                claimed[carrier].append(pk)
        leased = [pk for ids in claimed.values() for pk in ids]
        Shipment.objects.filter(pk__in=leased).update(next_check_at=now + POLL_LEASE)
    return dict(claimed)


@dataclass
class PollOutcome:
    polled: int = 0
    failed: int = 0
    skipped: int = 0
    new_events: int = 0


def _pause(carrier: str, *, until: datetime, error: str) -> None:
    state, _ = CarrierPollState.objects.get_or_create(carrier=carrier)
    state.paused_until = max(until, state.paused_until or until)
    state.consecutive_failures += 1
    state.last_error = error[:2000]
    state.save()


def _record_failure(shipment: Shipment, now: datetime, *, permanent: bool) -> None:
    failures = shipment.poll_failures + (3 if permanent else 1)
    Shipment.objects.filter(pk=shipment.pk).update(
        poll_failures=min(failures, 30),
        last_checked_at=now,
        next_check_at=next_check_at(
            status=shipment.status, due_date=shipment.promise_date, now=now, failures=failures
        ),
    )


def shipments_poll(
    *, shipment_ids: Sequence[int], fetchers: dict[str, Fetcher] | None = None
) -> PollOutcome:
    """Ask each shipment's carrier for its events and record them; never in a transaction."""
    fetchers = pollable_carriers() if fetchers is None else fetchers
    outcome = PollOutcome()
    shipments = Shipment.objects.filter(pk__in=shipment_ids).exclude(status__in=FINISHED)
    for shipment in shipments.order_by("pk"):
        now = timezone.now()
        state = CarrierPollState.objects.filter(carrier=shipment.carrier).first()
        fetch = fetchers.get(shipment.carrier)
        if fetch is None or (state and state.paused_until and state.paused_until > now):
            # Not pollable, or the carrier asked us to wait: check again after the pause.
            resume = state.paused_until if state and state.paused_until else now
            Shipment.objects.filter(pk=shipment.pk).update(
                last_checked_at=now,
                next_check_at=resume + settings.TRACKING_POLL_NEAR_DELIVERY if fetch else None,
            )
            outcome.skipped += 1
            continue
        try:
            events = fetch(shipment.tracking_number)
        except TransientIntegrationError as exc:
            outcome.failed += 1
            if exc.retry_after is not None:
                # The carrier (or its shared budget) said when: wait that long, no penalty.
                until = now + timedelta(seconds=exc.retry_after)
                _pause(shipment.carrier, until=until, error=str(exc))
                Shipment.objects.filter(pk=shipment.pk).update(
                    last_checked_at=now, next_check_at=until + with_jitter(RETRY_SPREAD)
                )
            else:
                _record_failure(shipment, now, permanent=False)
            continue
        except PermanentIntegrationError as exc:
            logger.warning("poll of shipment %s failed permanently: %s", shipment.pk, exc)
            outcome.failed += 1
            _record_failure(shipment, now, permanent=True)
            continue
        outcome.polled += 1
        outcome.new_events += _record_polled(shipment, events, now)
    return outcome


def _record_polled(shipment: Shipment, events: list[ParsedEvent], now: datetime) -> int:
    with transaction.atomic():
        results = shipments_record_events(
            batch=[ShipmentEvents(shipment, events, EventSource.POLL, ScanOrigin.CARRIER)]
        )
        fresh = Shipment.objects.get(pk=shipment.pk)
        Shipment.objects.filter(pk=shipment.pk).update(
            last_checked_at=now,
            poll_failures=0,
            next_check_at=next_check_at(status=fresh.status, due_date=fresh.promise_date, now=now),
        )
        CarrierPollState.objects.filter(carrier=shipment.carrier).update(
            consecutive_failures=0, last_polled_at=now
        )
    return sum(r.new_events for r in results)


@dataclass
class SweepOutcome:
    stalled: int = 0
    expired: int = 0


@transaction.atomic
def shipments_sweep_quiet(*, now: datetime | None = None) -> SweepOutcome:
    """Flag stalled moving parcels and expire shipments silent for too long (bounded batches)."""
    now = now or timezone.now()
    outcome = SweepOutcome()
    last_heard = Coalesce("last_event_at", "created_at")
    expiring = list(
        Shipment.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("merchant")
        .alias(last_heard=last_heard)
        .filter(last_heard__lt=now - settings.TRACKING_EXPIRE_AFTER)
        .exclude(status__in=FINISHED)
        .order_by("pk")[:SWEEP_BATCH]
    )
    for shipment in expiring:
        previous = shipment.status
        shipment.status = ShipmentStatus.EXPIRED
        shipment.status_reason = ""
        shipment.action_required = False
        shipment.lifecycle = Lifecycle.FAILED
        shipment.status_changed_at = now
        shipment.next_check_at = None
        shipment.save(
            update_fields=[
                "status",
                "status_reason",
                "action_required",
                "lifecycle",
                "status_changed_at",
                "next_check_at",
                "updated_at",
            ]
        )
        outbox.publish(
            merchant=shipment.merchant,
            type=STATUS_CHANGED,
            subject=f"shipment:{shipment.pk}",
            data={**shipment_event_data(shipment), "previous_status": previous},
        )
        outcome.expired += 1
    stalled = list(
        Shipment.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("merchant")
        .filter(
            Q(status__in=MOVING_STATUSES),
            last_event_at__lt=now - settings.TRACKING_STALLED_AFTER,
            stalled_at__isnull=True,
        )
        .order_by("pk")[:SWEEP_BATCH]
    )
    for quiet in stalled:
        Shipment.objects.filter(pk=quiet.pk).update(stalled_at=now)
        silent = now - (quiet.last_event_at or now)
        outbox.publish(
            merchant=quiet.merchant,
            type=STALLED,
            subject=f"shipment:{quiet.pk}",
            data={
                **shipment_event_data(quiet),
                "last_event_at": quiet.last_event_at.isoformat() if quiet.last_event_at else None,
                "silent_hours": round(silent.total_seconds() / 3600, 1),
            },
        )
        outcome.stalled += 1
    return outcome
