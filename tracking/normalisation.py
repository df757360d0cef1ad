"""Recording carrier scans on shipments: dedupe, derive the status, publish what changed.

Every path a scan takes into the platform (webhook, polling, bulk import) ends here. A scan is
identified by a stable key (tracking.scan_keys: carrier, number, carrier time to the minute,
code, location), unique per shipment, so the same scan learnt twice is one row. The shipment's
status is derived from all of its events ordered by carrier time, never by arrival: `delivered`
does not regress except to a return, and the lifecycle is the furthest stage any event reached
(ARCHITECTURE.md "Shipment status model").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from postpurchase import outbox
from tracking.domain import ExceptionReason, Lifecycle, ParsedEvent, ShipmentStatus
from tracking.event_rows import (
    EventRow,
    derived_states_save,
    event_rows_insert_new,
    unmapped_codes_count,
)
from tracking.models import EventSource, ScanOrigin, Shipment, TrackingEvent
from tracking.scan_keys import parsed_event_key
from tracking.scan_matching import ScanFacts, match_key_for, pair_scans
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
_LIFECYCLE_OF_RANK = {
    rank: stage for stage, rank in _LIFECYCLE_RANK.items() if stage != Lifecycle.FAILED
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


class EventFacts(NamedTuple):
    """What status derivation needs of one recorded event (a named tuple: one is built per
    stored event each time a shipment is re-derived, and tuples are the cheapest to build)."""

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
    origin: ScanOrigin = ScanOrigin.OTHER  # carrier and aggregator scans match across sources


@dataclass(frozen=True)
class RecordResult:
    shipment_id: int
    received: int
    new_events: int
    status_changed: bool
    status: str
    new_keys: frozenset[str] = frozenset()
    matched: int = 0  # scans found to be another source's report of a scan already shown


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
        new_rows = event_rows_insert_new(incoming)
        unmapped_codes_count(new_rows)
        touched = {row.shipment_id for row in new_rows}
        derived = _apply_derived_states(locked, touched, now)
        shown = _shown_new_rows(new_rows, derived.links)
        _publish(locked, shown, derived.changes)
    received: dict[int, int] = defaultdict(int)
    for item in batch:
        received[item.shipment.pk] += len(item.events)
    fresh: dict[int, set[str]] = defaultdict(set)
    for row in shown:
        fresh[row.shipment_id].add(row.dedupe_key)
    return [
        RecordResult(
            shipment_id=pk,
            received=received[pk],
            new_events=len(fresh[pk]),
            status_changed=pk in derived.changes,
            status=locked[pk].status,
            new_keys=frozenset(fresh[pk]),
            matched=len(derived.links.get(pk, {})),
        )
        for pk in ids
        if pk in locked
    ]


def _shown_new_rows(new_rows: list[EventRow], links: dict[int, dict[int, int]]) -> list[EventRow]:
    """The new rows that are new timeline events: not an aggregator's report of a scan the
    carrier's row shows, nor a carrier's row that took the place of an aggregator's shown one."""
    if not links:
        return new_rows
    linked = [row_id for pairs in links.values() for pair in pairs.items() for row_id in pair]
    keys = {
        pk: (shipment_id, key)
        for pk, shipment_id, key in TrackingEvent.objects.filter(pk__in=linked).values_list(
            "pk", "shipment_id", "dedupe_key"
        )
    }
    new = {(row.shipment_id, row.dedupe_key) for row in new_rows}
    hidden: set[tuple[int, str]] = set()
    for pairs in links.values():
        for aggregator_id, carrier_id in pairs.items():
            hidden.add(keys[aggregator_id])
            if keys[aggregator_id] not in new:
                hidden.add(keys[carrier_id])  # replaces an event already shown
    return [row for row in new_rows if (row.shipment_id, row.dedupe_key) not in hidden]


def _incoming_rows(
    batch: Sequence[ShipmentEvents], locked: dict[int, Shipment], now: datetime
) -> dict[tuple[int, str], EventRow]:
    rows: dict[tuple[int, str], EventRow] = {}
    for item in batch:
        shipment = locked.get(item.shipment.pk)
        if shipment is None:
            continue
        origin = item.origin
        for event in item.events:
            key = (shipment.pk, parsed_event_key(event))
            if key in rows:
                continue
            loc = event.location
            country = loc.country[:2].upper()
            rows[key] = EventRow(
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
                country=country,
                mapped=event.mapped,
                mapping_version=event.mapping_version[:32],
                estimated_delivery=event.estimated_delivery,
                source=str(item.source),
                received_at=now,
                origin=origin,
                match_key=match_key_for(
                    origin,
                    event.occurred_at,
                    event.status,
                    loc.city[:100],
                    loc.postcode[:20],
                    country,
                ),
            )
    return rows


@dataclass(frozen=True)
class _Change:
    before: tuple[str, str, bool]
    derived: DerivedState


@dataclass(frozen=True)
class _DerivedPass:
    changes: dict[int, _Change]  # the status changes to publish, by shipment
    links: dict[int, dict[int, int]]  # cross-source matches made now: {aggregator: carrier row}


def _apply_derived_states(
    locked: dict[int, Shipment], touched: set[int], now: datetime
) -> _DerivedPass:
    """Match the touched shipments' scans across sources, re-derive them from their shown
    events and save what moved.

    A change that only a carrier's row taking an aggregator's place brings (the same scan, a
    richer reason) is saved but not published: what the aggregator's report said was published
    already, and the same scan must not notify twice.
    """
    if not touched:
        return _DerivedPass({}, {})
    links = _match_across_sources(touched)
    states = derived_states(touched)
    unswapped = _derived_without_matches(links)
    changes: dict[int, _Change] = {}
    dirty: list[Shipment] = []
    for pk in sorted(touched):
        shipment = locked[pk]
        derived = states[pk]
        without_matches = unswapped.get(pk)
        before = (shipment.status, shipment.status_reason, shipment.action_required)
        after = (derived.status, derived.reason, derived.action_required)
        if after != before and (without_matches is None or _outcome(without_matches) != before):
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
    derived_states_save(dirty)
    return _DerivedPass(changes, links)


def _outcome(derived: DerivedState) -> tuple[str, str, bool]:
    return (derived.status, derived.reason, derived.action_required)


_BOTH_ORIGINS = ScanOrigin.CARRIER | ScanOrigin.AGGREGATOR


def _match_across_sources(touched: set[int]) -> dict[int, dict[int, int]]:
    """Pair the carrier's and the aggregators' reports of the same scans of the touched
    shipments and store the links: {shipment: {aggregator row: carrier row}} made now."""
    scans: dict[int, list[ScanFacts]] = defaultdict(list)
    origins: dict[int, int] = defaultdict(int)
    # Only shipments with an aggregator's scan can pair: most shipments (every one of a carrier
    # import) have none, and reading all their scans back into Python cost a fifth of an import.
    with_aggregator = TrackingEvent.objects.filter(
        shipment_id__in=touched, origin=ScanOrigin.AGGREGATOR, match_key__isnull=False
    ).values("shipment_id")
    rows = (
        TrackingEvent.objects.filter(shipment_id__in=touched, match_key__isnull=False)
        .filter(shipment_id__in=with_aggregator)
        .values_list("shipment_id", "id", "origin", "match_key", "duplicate_of_id")
    )
    for shipment_id, row_id, origin, key, duplicate_of in rows:
        origins[shipment_id] |= origin
        scans[shipment_id].append(ScanFacts(row_id, origin, key, duplicate_of))
    links: dict[int, dict[int, int]] = {}
    for pk, seen in origins.items():
        if seen == _BOTH_ORIGINS:
            found = pair_scans(scans[pk])
            if found:
                links[pk] = found
    if links:
        _links_save([pair for pairs in links.values() for pair in pairs.items()])
    return links


def _links_save(pairs: list[tuple[int, int]]) -> None:
    """Point each aggregator row at the carrier row that shows its scan (one statement)."""
    if connection.vendor != "postgresql":
        TrackingEvent.objects.bulk_update(
            [
                TrackingEvent(pk=aggregator, duplicate_of_id=carrier)
                for aggregator, carrier in pairs
            ],
            ["duplicate_of"],
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tracking_trackingevent AS e SET duplicate_of_id = v.carrier"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS v(aggregator, carrier)"
            " WHERE e.id = v.aggregator",
            [[a for a, _ in pairs], [c for _, c in pairs]],
        )


def _derived_without_matches(links: dict[int, dict[int, int]]) -> dict[int, DerivedState]:
    """The shipments where matches were made now, derived as they would be had the aggregators'
    rows kept their place instead of the carrier's rows that matched them."""
    if not links:
        return {}
    facts: dict[int, list[EventFacts]] = defaultdict(list)
    rows = TrackingEvent.objects.filter(shipment_id__in=links).values_list(
        "shipment_id", "occurred_at", "status", "reason", "action_required", "id", "duplicate_of_id"
    )
    for shipment_id, occurred_at, status, reason, action, row_id, duplicate_of in rows:
        pairs = links[shipment_id]
        if row_id in pairs or (duplicate_of is None and row_id not in pairs.values()):
            facts[shipment_id].append(EventFacts(occurred_at, status, reason, action, row_id))
    return {pk: derive_state(facts[pk]) for pk in links}


_NO_EVENTS = derive_state(())


def derived_states(shipment_ids: Iterable[int]) -> dict[int, DerivedState]:
    """`derive_state` of each shipment over all its stored events (one without events: pending).

    On PostgreSQL the fold runs in the database (`_DERIVE_SQL`): only one row per shipment comes
    back instead of every event. Elsewhere the events are read and folded in Python.
    """
    ids = sorted(set(shipment_ids))
    if not ids:
        return {}
    if connection.vendor != "postgresql":
        facts = _event_facts(set(ids))
        return {pk: derive_state(facts[pk]) for pk in ids}
    states = dict.fromkeys(ids, _NO_EVENTS)
    with connection.cursor() as cursor:
        cursor.execute(_DERIVE_SQL, {"ids": ids})
        rows = cursor.fetchall()
    for pk, status, reason, action, rank, last_at, delivered_at, current_at in rows:
        lifecycle: Lifecycle = _LIFECYCLE_OF_RANK[rank]
        if (
            status == ShipmentStatus.CANCELLED
            or (status == ShipmentStatus.EXCEPTION and reason in _FAILING_REASONS)
        ) and lifecycle not in _TERMINAL_LIFECYCLES:
            lifecycle = Lifecycle.FAILED
        states[pk] = DerivedState(
            status=status,
            reason=reason,
            action_required=action,
            lifecycle=lifecycle,
            last_event_at=last_at,
            delivered_at=delivered_at,
            current_event_at=current_at,
        )
    return states


def _sql_case(column: str, values: dict[str, int]) -> str:
    whens = " ".join(f"WHEN '{key}' THEN {value}" for key, value in sorted(values.items()))
    return f"CASE {column} {whens} ELSE 0 END"


# The fold of `derive_state` as one query. Each event's place in carrier-time order is the
# array [carrier time in microseconds * 16 + same-time tie-break (_PROGRESS), id]: arrays compare
# element by element, so min/max of it is the first/last event by (occurred_at, progress, id),
# the order `derive_state` sorts by. The fold's current event is then, in the order
#   1. the last `returned_to_sender` (always accepted, and once it is current nothing but another
#      one follows),
#   2. else the first `delivered` after the last `returning_to_sender` (or after the start when
#      there is none): every scan before it is accepted, after it only a return would be,
#   3. else the last event that is not `pending` (all of them are accepted),
#   4. else the first event (only unmapped "nothing known" scans).
# `delivered_at` is the time of the first delivered scan of all when the current one is
# delivered: with no returned_to_sender scan, nothing can be current before the first delivered
# scan that would refuse it, and the fold never clears the time once set. (The key fits a bigint
# for every time a Python datetime can hold: |microseconds| < 2.6e17, times 16.)
# The lifecycle is the highest stage rank of any event; the failed override stays in Python.
# tests/tracking/test_status_derivation.py compares it with `derive_state` on random histories.
_STAGE_RANK_SQL = (
    "CASE WHEN e.reason LIKE 'customs.%%' AND e.status IN ('in_transit', 'exception')"
    f" THEN {_LIFECYCLE_RANK[Lifecycle.CUSTOMS]} ELSE "
    + _sql_case(
        "e.status", {str(s): _LIFECYCLE_RANK[stage] for s, stage in _LIFECYCLE_BY_STATUS.items()}
    )
    + " END"
)
_DERIVE_SQL = f"""
WITH keyed AS (
    SELECT e.shipment_id, e.status, e.occurred_at,
           ARRAY[(extract(epoch FROM e.occurred_at) * 1000000)::bigint * 16
                 + {_sql_case("e.status", {str(k): v for k, v in _PROGRESS.items()})},
                 e.id] AS k,
           {_STAGE_RANK_SQL} AS stage_rank
    FROM tracking_trackingevent AS e
    WHERE e.shipment_id = ANY(%(ids)s) AND e.duplicate_of_id IS NULL
), ev AS (
    SELECT keyed.*,
           max(k) FILTER (WHERE status = 'returning_to_sender')
               OVER (PARTITION BY shipment_id) AS last_returning
    FROM keyed
), agg AS (
    SELECT shipment_id,
           COALESCE(
               max(k) FILTER (WHERE status = 'returned_to_sender'),
               min(k) FILTER (WHERE status = 'delivered'
                              AND (last_returning IS NULL OR k > last_returning)),
               max(k) FILTER (WHERE status <> 'pending'),
               min(k)
           ) AS current,
           min(k) FILTER (WHERE status = 'delivered') AS first_delivered,
           max(occurred_at) AS last_event_at,
           max(stage_rank) AS stage_rank
    FROM ev GROUP BY shipment_id
)
SELECT a.shipment_id, c.status, c.reason, c.action_required, a.stage_rank, a.last_event_at,
       CASE WHEN c.status = 'delivered' THEN fd.occurred_at END, c.occurred_at
FROM agg AS a
JOIN tracking_trackingevent AS c ON c.id = a.current[2]
LEFT JOIN tracking_trackingevent AS fd ON fd.id = a.first_delivered[2]
"""  # noqa: S608 - built from the fixed tables above


def _event_facts(shipment_ids: set[int]) -> dict[int, list[EventFacts]]:
    """What derivation needs of every event of the shipments (the fold outside PostgreSQL)."""
    facts: dict[int, list[EventFacts]] = defaultdict(list)
    # An aggregator's report matched to the carrier's own row is not an event of the timeline.
    rows = TrackingEvent.objects.filter(
        shipment_id__in=shipment_ids, duplicate_of__isnull=True
    ).values_list("shipment_id", "occurred_at", "status", "reason", "action_required", "id")
    for shipment_id, occurred_at, status, reason, action, row_id in rows:
        facts[shipment_id].append(EventFacts(occurred_at, status, reason, action, row_id))
    return facts


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
    locked: dict[int, Shipment], new_rows: Sequence[EventRow], changes: dict[int, _Change]
) -> None:
    """Publish the batch's domain events with one INSERT and one dispatch message."""
    by_shipment: dict[int, list[EventRow]] = defaultdict(list)
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


@dataclass(frozen=True)
class RederiveOutcome:
    status_changes: int  # shipments whose status changed
    matched: int  # scans matched across sources (one shown event for two reports)


def shipments_rederive(
    *, new_event_counts: dict[int, int], publish: bool, chunk: int = 5000
) -> RederiveOutcome:
    """Match and re-derive the shipments whose events were written in bulk (an import).

    With `publish`, each change is published as a live scan's would be, and estimates hear of the
    new events; a historical backfill passes False so shoppers are not told about old parcels.
    """
    ids = sorted(new_event_counts)
    changed = matched = 0
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
            derived = _apply_derived_states(locked, set(locked), now)
            changed += len(derived.changes)
            matched += sum(len(pairs) for pairs in derived.links.values())
            if publish:
                _publish_rederived(locked, derived, new_event_counts)
    return RederiveOutcome(status_changes=changed, matched=matched)


def _publish_rederived(
    locked: dict[int, Shipment], derived: _DerivedPass, inserted: dict[int, int]
) -> None:
    specs: list[outbox.EventSpec] = []
    for pk, shipment in sorted(locked.items()):
        specs.extend(_status_specs(shipment, derived.changes.get(pk)))
        # Each match made now hid one report that this import's rows brought or met.
        shown = inserted.get(pk, 0) - len(derived.links.get(pk, {}))
        if shown > 0:
            specs.append(
                outbox.EventSpec(
                    merchant=shipment.merchant,
                    type=EVENTS_RECORDED,
                    subject=f"shipment:{pk}",
                    data={
                        **shipment_event_data(shipment),
                        "new_events": shown,
                        "latest_event_at": shipment.last_event_at.isoformat()
                        if shipment.last_event_at
                        else None,
                    },
                )
            )
    outbox.publish_many(events=specs)
