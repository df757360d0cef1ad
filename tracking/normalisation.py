"""Recording carrier scans on shipments: dedupe, derive the status, publish what changed.

Every path a scan takes into the platform (webhook, polling, bulk import) ends here. A scan is
identified by a stable key (carrier, number, carrier time to the minute, code, location), unique per
shipment, so the same scan learnt twice is one row. The shipment's status is derived from all of its
events ordered by carrier time, never by arrival: `delivered` does not regress except to a return,
and the lifecycle is the furthest stage any event reached (ARCHITECTURE.md "Shipment status model").
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from postpurchase import outbox
from tracking.domain import ExceptionReason, Lifecycle, ParsedEvent, ShipmentStatus
from tracking.models import EventSource, Shipment, TrackingEvent
from tracking.scheduling import next_check_at

# Tie-break for scans stamped with the same carrier time: the further milestone wins.
_PROGRESS = {
    ShipmentStatus.PENDING: 0,
    ShipmentStatus.INFO_RECEIVED: 1,
    ShipmentStatus.IN_TRANSIT: 2,
    ShipmentStatus.EXCEPTION: 3,
    ShipmentStatus.OUT_FOR_DELIVERY: 4,
    ShipmentStatus.ATTEMPT_FAILED: 5,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 6,
    ShipmentStatus.CANCELLED: 7,
    ShipmentStatus.EXPIRED: 7,
    ShipmentStatus.DELIVERED: 8,
    ShipmentStatus.RETURNING_TO_SENDER: 9,
    ShipmentStatus.RETURNED_TO_SENDER: 10,
}
_RETURNS = frozenset({ShipmentStatus.RETURNING_TO_SENDER, ShipmentStatus.RETURNED_TO_SENDER})

_LIFECYCLE_BY_STATUS = {
    ShipmentStatus.PENDING: Lifecycle.PRE_TRANSIT,
    ShipmentStatus.INFO_RECEIVED: Lifecycle.PRE_TRANSIT,
    ShipmentStatus.IN_TRANSIT: Lifecycle.TRANSIT,
    ShipmentStatus.EXCEPTION: Lifecycle.TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY: Lifecycle.LAST_MILE,
    ShipmentStatus.ATTEMPT_FAILED: Lifecycle.LAST_MILE,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: Lifecycle.READY_TO_COLLECT,
    ShipmentStatus.DELIVERED: Lifecycle.DELIVERED,
    ShipmentStatus.RETURNING_TO_SENDER: Lifecycle.SENT_BACK,
    ShipmentStatus.RETURNED_TO_SENDER: Lifecycle.RETURNED,
    ShipmentStatus.CANCELLED: Lifecycle.PRE_TRANSIT,
    ShipmentStatus.EXPIRED: Lifecycle.PRE_TRANSIT,
}
_LIFECYCLE_RANK = {
    Lifecycle.PRE_TRANSIT: 0,
    Lifecycle.TRANSIT: 1,
    Lifecycle.CUSTOMS: 2,
    Lifecycle.LAST_MILE: 3,
    Lifecycle.READY_TO_COLLECT: 4,
    Lifecycle.DELIVERED: 5,
    Lifecycle.SENT_BACK: 6,
    Lifecycle.RETURNED: 7,
    Lifecycle.FAILED: 0,
}
_FAILING_REASONS = frozenset({ExceptionReason.CARRIER_LOST, ExceptionReason.CARRIER_DAMAGED})

# The milestone events published besides `shipment.status_changed`.
MILESTONE_EVENTS = {
    ShipmentStatus.OUT_FOR_DELIVERY: "shipment.out_for_delivery",
    ShipmentStatus.DELIVERED: "shipment.delivered",
    ShipmentStatus.ATTEMPT_FAILED: "shipment.attempt_failed",
    ShipmentStatus.EXCEPTION: "shipment.exception",
    ShipmentStatus.AVAILABLE_FOR_PICKUP: "shipment.available_for_pickup",
}
EVENTS_RECORDED = "shipment.events_recorded"
STATUS_CHANGED = "shipment.status_changed"


@dataclass(frozen=True)
class EventFacts:
    """What status derivation needs of one recorded event."""

    occurred_at: datetime
    status: str
    reason: str = ""
    action_required: bool = False
    row_id: int = 0


@dataclass(frozen=True)
class DerivedState:
    status: str
    reason: str
    action_required: bool
    lifecycle: str
    last_event_at: datetime | None
    delivered_at: datetime | None
    current_event_at: datetime | None


@dataclass(frozen=True)
class ShipmentEvents:
    """Parsed events to record on one shipment, and where they came from."""

    shipment: Shipment
    events: Sequence[ParsedEvent]
    source: EventSource = EventSource.WEBHOOK


@dataclass(frozen=True)
class RecordResult:
    shipment_id: int
    received: int
    new_events: int
    status_changed: bool
    status: str
    new_keys: frozenset[str] = frozenset()


def _clean(value: str) -> str:
    return " ".join(value.split()).casefold()


@lru_cache(maxsize=65536)
def _place_hash(city: str, region: str, postcode: str, country: str) -> str:
    place = "|".join(_clean(p) for p in (city, region, postcode.replace(" ", ""), country))
    return hashlib.sha256(place.encode()).hexdigest()[:16]


@lru_cache(maxsize=4096)
def _carrier_part(carrier: str) -> str:
    return _clean(carrier)


def scan_key(
    *,
    carrier: str,
    tracking_number: str,
    occurred_at: datetime,
    carrier_code: str,
    city: str = "",
    region: str = "",
    postcode: str = "",
    country: str = "",
) -> str:
    """The stable identity of one scan (sha256 hex), the same whichever way it reached us."""
    minute = occurred_at.astimezone(UTC).replace(second=0, microsecond=0).isoformat()
    raw = "\x1f".join(
        (
            _carrier_part(carrier),
            tracking_number.replace(" ", "").upper(),
            minute,
            carrier_code.strip().upper(),
            _place_hash(city, region, postcode, country),
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def parsed_event_key(event: ParsedEvent) -> str:
    loc = event.location
    return scan_key(
        carrier=event.carrier,
        tracking_number=event.tracking_number,
        occurred_at=event.occurred_at,
        carrier_code=event.carrier_code,
        city=loc.city,
        region=loc.region,
        postcode=loc.postcode,
        country=loc.country,
    )


def derive_state(events: Iterable[EventFacts]) -> DerivedState:
    """Status, reason and lifecycle of a shipment from all its events, by carrier time."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, _PROGRESS.get(e.status, 0), e.row_id))  # type: ignore[call-overload]
    current: EventFacts | None = None
    delivered_at: datetime | None = None
    lifecycle_rank = -1
    lifecycle = Lifecycle.PRE_TRANSIT
    for event in ordered:
        stage = _stage_of(event)
        if _LIFECYCLE_RANK[stage] > lifecycle_rank:
            lifecycle_rank, lifecycle = _LIFECYCLE_RANK[stage], stage
        if event.status == ShipmentStatus.PENDING and current is not None:
            continue  # an unmapped "nothing known" scan never hides what we know
        if current is not None and not _may_follow(current.status, event.status):
            continue
        current = event
        if event.status == ShipmentStatus.DELIVERED and delivered_at is None:
            delivered_at = event.occurred_at
    if current is None:
        return DerivedState(ShipmentStatus.PENDING, "", False, lifecycle, None, None, None)
    if current.status != ShipmentStatus.DELIVERED:
        delivered_at = None
    if _is_failed(current) and lifecycle not in _TERMINAL_LIFECYCLES:
        lifecycle = Lifecycle.FAILED
    keeps_reason = current.status in (ShipmentStatus.EXCEPTION, ShipmentStatus.ATTEMPT_FAILED)
    return DerivedState(
        status=current.status,
        reason=current.reason if keeps_reason or current.reason else "",
        action_required=current.action_required,
        lifecycle=lifecycle,
        last_event_at=ordered[-1].occurred_at,
        delivered_at=delivered_at,
        current_event_at=current.occurred_at,
    )


_TERMINAL_LIFECYCLES = frozenset({Lifecycle.DELIVERED, Lifecycle.SENT_BACK, Lifecycle.RETURNED})


def _stage_of(event: EventFacts) -> Lifecycle:
    if event.reason.startswith("customs.") and event.status in (
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.EXCEPTION,
    ):
        return Lifecycle.CUSTOMS
    return _LIFECYCLE_BY_STATUS.get(ShipmentStatus(event.status), Lifecycle.PRE_TRANSIT)


def _may_follow(current: str, following: str) -> bool:
    """Delivered and returned are sticky: only a return may follow a delivery."""
    if current == ShipmentStatus.DELIVERED:
        return following in _RETURNS
    if current == ShipmentStatus.RETURNED_TO_SENDER:
        return following == ShipmentStatus.RETURNED_TO_SENDER
    return True


def _is_failed(event: EventFacts) -> bool:
    if event.status == ShipmentStatus.CANCELLED:
        return True
    return event.status == ShipmentStatus.EXCEPTION and event.reason in _FAILING_REASONS


def shipment_record_events(
    *,
    shipment: Shipment,
    events: Sequence[ParsedEvent],
    source: EventSource = EventSource.WEBHOOK,
) -> RecordResult:
    """Record one shipment's parsed events (deduplicated) and update its status."""
    result = shipments_record_events(batch=[ShipmentEvents(shipment, events, source)])[0]
    shipment.refresh_from_db()
    return result


def shipments_record_events(*, batch: Sequence[ShipmentEvents]) -> list[RecordResult]:
    """Record parsed events on many shipments at once: one lock, one insert, one status pass.

    Shipments are locked in id order before anything is read, so two workers handling the same
    scan cannot both believe it is new (the unique constraint backs this up).
    """
    if not batch:
        return []
    now = timezone.now()
    with transaction.atomic():
        ids = sorted({item.shipment.pk for item in batch})
        locked = {
            s.pk: s
            for s in Shipment.objects.select_for_update(of=("self",))
            .select_related("merchant")
            .filter(pk__in=ids)
            .order_by("pk")
        }
        incoming = _incoming_rows(batch, locked, now)
        new_rows = _insert_new(incoming)
        _count_unmapped(new_rows)
        touched = {row.shipment_id for row in new_rows}
        changes = _apply_derived_states(locked, touched, now)
        _publish(locked, new_rows, changes)
    received: dict[int, int] = defaultdict(int)
    for item in batch:
        received[item.shipment.pk] += len(item.events)
    fresh: dict[int, set[str]] = defaultdict(set)
    for row in new_rows:
        fresh[row.shipment_id].add(row.dedupe_key)
    return [
        RecordResult(
            shipment_id=pk,
            received=received[pk],
            new_events=len(fresh[pk]),
            status_changed=pk in changes,
            status=locked[pk].status,
            new_keys=frozenset(fresh[pk]),
        )
        for pk in ids
        if pk in locked
    ]


def _incoming_rows(
    batch: Sequence[ShipmentEvents], locked: dict[int, Shipment], now: datetime
) -> dict[tuple[int, str], TrackingEvent]:
    rows: dict[tuple[int, str], TrackingEvent] = {}
    for item in batch:
        shipment = locked.get(item.shipment.pk)
        if shipment is None:
            continue
        for event in item.events:
            key = (shipment.pk, parsed_event_key(event))
            if key in rows:
                continue
            loc = event.location
            rows[key] = TrackingEvent(
                merchant_id=shipment.merchant_id,
                shipment_id=shipment.pk,
                dedupe_key=key[1],
                carrier=event.carrier,
                tracking_number=event.tracking_number,
                occurred_at=event.occurred_at,
                status=str(event.status),
                reason=str(event.reason),
                action_required=event.action_required,
                carrier_code=event.carrier_code[:64],
                carrier_text=event.carrier_text,
                city=loc.city[:100],
                region=loc.region[:100],
                postcode=loc.postcode[:20],
                country=loc.country[:2].upper(),
                mapped=event.mapped,
                mapping_version=event.mapping_version[:32],
                estimated_delivery=event.estimated_delivery,
                source=item.source,
                received_at=now,
            )
    return rows


def _insert_new(incoming: dict[tuple[int, str], TrackingEvent]) -> list[TrackingEvent]:
    """Insert the scans not stored yet; return those that were new.

    On PostgreSQL one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING RETURNING`
    says exactly which rows went in; elsewhere the stored keys are read first (the shipments are
    locked, so none can appear meanwhile) and the rest bulk-inserted ignoring conflicts.
    """
    if not incoming:
        return []
    if connection.vendor != "postgresql":
        existing = _existing_keys(incoming)
        new_rows = [row for key, row in incoming.items() if key not in existing]
        TrackingEvent.objects.bulk_create(new_rows, ignore_conflicts=True, batch_size=1000)
        return new_rows
    rows = list(incoming.values())
    names = [name for name, _ in _EVENT_COLUMNS]
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in _EVENT_COLUMNS)
    params = [[getattr(row, name) for row in rows] for name in names]
    columns = ", ".join(names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO tracking_trackingevent ({columns})"  # noqa: S608 - fixed columns
            f" SELECT * FROM unnest({arrays})"
            " ON CONFLICT (shipment_id, dedupe_key) DO NOTHING RETURNING shipment_id, dedupe_key",
            params,
        )
        inserted = {(int(pk), key) for pk, key in cursor.fetchall()}
    return [row for key, row in incoming.items() if key in inserted]


_EVENT_COLUMNS = (
    ("merchant_id", "bigint"),
    ("shipment_id", "bigint"),
    ("dedupe_key", "text"),
    ("carrier", "text"),
    ("tracking_number", "text"),
    ("occurred_at", "timestamptz"),
    ("status", "text"),
    ("reason", "text"),
    ("action_required", "boolean"),
    ("carrier_code", "text"),
    ("carrier_text", "text"),
    ("city", "text"),
    ("region", "text"),
    ("postcode", "text"),
    ("country", "text"),
    ("mapped", "boolean"),
    ("mapping_version", "text"),
    ("estimated_delivery", "timestamptz"),
    ("source", "text"),
    ("received_at", "timestamptz"),
)


def _existing_keys(incoming: dict[tuple[int, str], TrackingEvent]) -> set[tuple[int, str]]:
    if not incoming:
        return set()
    shipment_ids = {pk for pk, _ in incoming}
    keys = {key for _, key in incoming}
    return set(
        TrackingEvent.objects.filter(shipment_id__in=shipment_ids, dedupe_key__in=keys).values_list(
            "shipment_id", "dedupe_key"
        )
    )


def _count_unmapped(rows: Sequence[TrackingEvent]) -> None:
    """Add the unmapped codes among new events to the per-carrier counter, atomically."""
    counts: dict[tuple[str, str], tuple[int, str, str, str]] = {}
    for row in rows:
        if row.mapped:
            continue
        key = (row.carrier.lower(), row.carrier_code)
        n = counts.get(key, (0, "", "", ""))[0]
        counts[key] = (n + 1, row.carrier_text[:500], row.status, row.mapping_version)
    if not counts:
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        for (carrier, code), (n, text, status, version) in sorted(counts.items()):
            cursor.execute(
                "INSERT INTO tracking_unmappedcarriercode (carrier, carrier_code, sample_text,"
                " mapped_to, mapping_version, occurrences, first_seen_at, last_seen_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (carrier, carrier_code) DO UPDATE SET"
                " occurrences = tracking_unmappedcarriercode.occurrences + excluded.occurrences,"
                " last_seen_at = excluded.last_seen_at, mapping_version = excluded.mapping_version",
                [carrier, code, text, status, version, n, now, now],
            )


@dataclass(frozen=True)
class _Change:
    before: tuple[str, str, bool]
    derived: DerivedState


def _apply_derived_states(
    locked: dict[int, Shipment], touched: set[int], now: datetime
) -> dict[int, _Change]:
    """Re-derive the touched shipments from all their events and save what moved."""
    if not touched:
        return {}
    facts = _event_facts(touched)
    changes: dict[int, _Change] = {}
    dirty: list[Shipment] = []
    for pk in sorted(touched):
        shipment = locked[pk]
        derived = derive_state(facts[pk])
        before = (shipment.status, shipment.status_reason, shipment.action_required)
        after = (derived.status, derived.reason, derived.action_required)
        if after != before:
            changes[pk] = _Change(before, derived)
            shipment.status_changed_at = now
        shipment.status, shipment.status_reason, shipment.action_required = after
        shipment.lifecycle = derived.lifecycle
        shipment.last_event_at = derived.last_event_at
        shipment.delivered_at = derived.delivered_at
        shipment.stalled_at = None
        shipment.poll_failures = 0
        shipment.next_check_at = next_check_at(
            status=derived.status, due_date=shipment.promise_date, now=now
        )
        shipment.updated_at = now
        dirty.append(shipment)
    _save_derived(dirty)
    return changes


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _event_facts(shipment_ids: set[int]) -> dict[int, list[EventFacts]]:
    """What derivation needs of every event of the shipments, read as cheaply as possible.

    On PostgreSQL the carrier time comes as integer microseconds since the epoch: converting
    those is far cheaper than loading timestamptz values through the ORM, and exact.
    """
    facts: dict[int, list[EventFacts]] = defaultdict(list)
    if connection.vendor != "postgresql":
        rows = TrackingEvent.objects.filter(shipment_id__in=shipment_ids).values_list(
            "shipment_id", "occurred_at", "status", "reason", "action_required", "id"
        )
        for shipment_id, occurred_at, status, reason, action, row_id in rows:
            facts[shipment_id].append(EventFacts(occurred_at, status, reason, action, row_id))
        return facts
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shipment_id, (extract(epoch FROM occurred_at) * 1000000)::bigint, status,"
            " reason, action_required, id FROM tracking_trackingevent"
            " WHERE shipment_id = ANY(%s)",
            [sorted(shipment_ids)],
        )
        for shipment_id, micros, status, reason, action, row_id in cursor.fetchall():
            at = _EPOCH + timedelta(microseconds=micros)
            facts[shipment_id].append(EventFacts(at, status, reason, action, row_id))
    return facts


_DERIVED_FIELDS = (
    ("status", "text"),
    ("status_reason", "text"),
    ("action_required", "boolean"),
    ("lifecycle", "text"),
    ("status_changed_at", "timestamptz"),
    ("last_event_at", "timestamptz"),
    ("delivered_at", "timestamptz"),
    ("stalled_at", "timestamptz"),
    ("poll_failures", "smallint"),
    ("next_check_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)


def _save_derived(shipments: Sequence[Shipment]) -> None:
    """Write the derived fields of many shipments in one statement.

    On PostgreSQL an `UPDATE … FROM unnest(<one array per column>)` join: Django's `bulk_update`
    builds a CASE per field and row, which costs more than the rest of a batch together.
    """
    if not shipments:
        return
    names = [name for name, _ in _DERIVED_FIELDS]
    if connection.vendor != "postgresql":
        Shipment.objects.bulk_update(shipments, names, batch_size=500)
        return
    columns = ", ".join(["id", *names])
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{kind}[]" for _, kind in _DERIVED_FIELDS)])
    params: list[Any] = [[s.pk for s in shipments]]
    params.extend([getattr(s, name) for s in shipments] for name in names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE tracking_shipment AS s SET {assignments}"  # noqa: S608 - fixed columns
            f" FROM unnest({arrays}) AS v({columns}) WHERE s.id = v.id",
            params,
        )


def shipment_event_data(shipment: Shipment) -> dict[str, object]:
    """The common payload of every shipment domain event."""
    return {
        "shipment_id": shipment.pk,
        "public_id": shipment.public_id,
        "order_id": shipment.order_id,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "status": shipment.status,
        "reason": shipment.status_reason,
        "action_required": shipment.action_required,
        "lifecycle": shipment.lifecycle,
    }


def _status_specs(shipment: Shipment, change: _Change | None) -> list[outbox.EventSpec]:
    """`shipment.status_changed` and its milestone event, when the status moved."""
    if change is None:
        return []
    at = change.derived.current_event_at
    data = {
        **shipment_event_data(shipment),
        "previous_status": change.before[0],
        "occurred_at": at.isoformat() if at else None,
    }
    subject = f"shipment:{shipment.pk}"
    specs = [outbox.EventSpec(shipment.merchant, STATUS_CHANGED, subject, data)]
    milestone = MILESTONE_EVENTS.get(ShipmentStatus(shipment.status))
    if milestone is not None:
        specs.append(outbox.EventSpec(shipment.merchant, milestone, subject, data))
    return specs


def _publish(
    locked: dict[int, Shipment], new_rows: Sequence[TrackingEvent], changes: dict[int, _Change]
) -> None:
    """Publish the batch's domain events with one INSERT and one dispatch message."""
    by_shipment: dict[int, list[TrackingEvent]] = defaultdict(list)
    for row in new_rows:
        by_shipment[row.shipment_id].append(row)
    specs: list[outbox.EventSpec] = []
    for pk in sorted(by_shipment):
        shipment = locked[pk]
        rows = by_shipment[pk]
        etas = [r.estimated_delivery for r in rows if r.estimated_delivery is not None]
        specs.extend(_status_specs(shipment, changes.get(pk)))
        latest = max(rows, key=lambda r: r.occurred_at)
        specs.append(
            outbox.EventSpec(
                merchant=shipment.merchant,
                type=EVENTS_RECORDED,
                subject=f"shipment:{pk}",
                data={
                    **shipment_event_data(shipment),
                    "new_events": len(rows),
                    "latest_event_at": latest.occurred_at.isoformat(),
                    "latest_location": {
                        "city": latest.city,
                        "region": latest.region,
                        "postcode": latest.postcode,
                        "country": latest.country,
                    },
                    "carrier_estimated_delivery": max(etas).isoformat() if etas else None,
                },
            )
        )
    outbox.publish_many(events=specs)


def shipments_rederive(
    *, new_event_counts: dict[int, int], publish: bool, chunk: int = 1000
) -> int:
    """Re-derive the status of shipments whose events were written in bulk (an import).

    With `publish`, each change is published as a live scan's would be, and estimates hear of the
    new events; a historical backfill passes False so shoppers are not told about old parcels.
    Returns how many shipments changed status.
    """
    ids = sorted(new_event_counts)
    changed = 0
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        now = timezone.now()
        with transaction.atomic():
            locked = {
                s.pk: s
                for s in Shipment.objects.select_for_update(of=("self",))
                .select_related("merchant")
                .filter(pk__in=part)
                .order_by("pk")
            }
            changes = _apply_derived_states(locked, set(locked), now)
            changed += len(changes)
            if publish:
                _publish_rederived(locked, changes, new_event_counts)
    return changed


def _publish_rederived(
    locked: dict[int, Shipment], changes: dict[int, _Change], counts: dict[int, int]
) -> None:
    specs: list[outbox.EventSpec] = []
    for pk, shipment in sorted(locked.items()):
        specs.extend(_status_specs(shipment, changes.get(pk)))
        if counts.get(pk):
            specs.append(
                outbox.EventSpec(
                    merchant=shipment.merchant,
                    type=EVENTS_RECORDED,
                    subject=f"shipment:{pk}",
                    data={
                        **shipment_event_data(shipment),
                        "new_events": counts[pk],
                        "latest_event_at": shipment.last_event_at.isoformat()
                        if shipment.last_event_at
                        else None,
                    },
                )
            )
    outbox.publish_many(events=specs)
