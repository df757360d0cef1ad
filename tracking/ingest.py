"""Inbound webhooks: store at the edge, then process in batches after commit.

The edge (`inbound_webhook_receive`) stores the verified raw request under its unique key and
asks for processing once the row is committed; a repeat delivery only bumps a counter. Processing
(`webhooks_process_batch`) claims a batch of received rows with SKIP LOCKED, parses each with its
source's adapter, finds each shipment (merchant + carrier + number + ship-date window, since
carriers recycle numbers) and records all the batch's events in one transaction. A body that
cannot be processed is kept, marked failed with the reason, and can be replayed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from postpurchase.errors import DomainError
from postpurchase.models import Merchant
from tracking.carriers import get_adapter
from tracking.domain import CarrierParseError, ParsedEvent
from tracking.edge_commit import ReceivedRow, insert_received
from tracking.models import (
    EventSource,
    InboundWebhook,
    InboundWebhookState,
    ScanOrigin,
    Shipment,
    WebhookSource,
)
from tracking.normalisation import ShipmentEvents, shipments_record_events
from tracking.scan_keys import parsed_event_key
from tracking.scan_matching import origin_of_kind
from tracking.services import tracking_number_normalise
from tracking.tracking_numbers import candidate_carriers, carrier_slug

logger = logging.getLogger(__name__)

PROCESSING_PENDING_KEY = "tracking:webhook_process:pending"
PROCESSING_DEBOUNCE_SECONDS = 1
# A scan may precede the shipment's registration with us (label printed, then the order synced).
IDENTITY_GRACE = timedelta(days=7)
# Headers not worth keeping (credentials of other systems, hop-by-hop noise).
_DROPPED_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization", "connection"})


class IngestError(Exception):
    """A stored webhook that cannot be processed as it is; the message is shown to ops."""


# --- the edge ---------------------------------------------------------------------------------


def headers_to_store(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v[:2000] for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}


def inbound_webhook_receive(
    *,
    merchant_id: int,
    source: str,
    topic: str,
    unique_key: str,
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[int, bool]:
    """Store a verified delivery; (row id, False) when the same event was already stored.

    One statement in autocommit (`INSERT … ON CONFLICT DO NOTHING RETURNING id`): the edge's
    only database write, and the unique constraint decides which of concurrent deliveries wins.
    """
    key = unique_key[:128]
    stored = json.dumps(headers_to_store(headers))
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    received = InboundWebhookState.RECEIVED.value
    grouped = bool(cast) and not connection.in_atomic_block
    if grouped:
        # PostgreSQL in autocommit: concurrent deliveries of this process share one INSERT and
        # one flush (tracking.edge_commit); the row is committed when this returns.
        row = ReceivedRow(
            merchant_id, source, topic[:64], key, stored, body, received, timezone.now()
        )
        new_id = insert_received(row)
        if new_id is not None:
            transaction.on_commit(schedule_processing, robust=True)
            return new_id, True
    # Autocommit: one round trip; the row is committed when execute returns.
    with connection.cursor() as cursor:
        if not grouped:
            cursor.execute(
                "INSERT INTO tracking_inboundwebhook (merchant_id, source, topic, unique_key,"  # noqa: S608
                " headers, body, state, error, attempts, deliveries, events_new, received_at)"
                f" VALUES (%s, %s, %s, %s, %s{cast}, %s, %s, '', 0, 1, 0, %s)"
                " ON CONFLICT (merchant_id, source, unique_key) DO NOTHING RETURNING id",
                [merchant_id, source, topic[:64], key, stored, body, received, timezone.now()],
            )
            inserted = cursor.fetchone()
            if inserted is not None:
                transaction.on_commit(schedule_processing, robust=True)
                return int(inserted[0]), True
        cursor.execute(
            "UPDATE tracking_inboundwebhook SET deliveries = deliveries + 1"
            " WHERE merchant_id = %s AND source = %s AND unique_key = %s RETURNING id, state",
            [merchant_id, source, key],
        )
        repeat = cursor.fetchone()
    if repeat is not None and repeat[1] == InboundWebhookState.RECEIVED:
        # This update held the row's lock for a moment, and a claim skips locked rows: make
        # sure a run starts after it.
        transaction.on_commit(schedule_processing, robust=True)
    return (int(repeat[0]) if repeat else 0), False


# Until when (wall clock) this process knows a trailing run is already queued.
_covered_until = 0.0
# Allowance for clock differences between the processes sharing the cache (hosts kept in step by
# NTP differ by milliseconds). Inside this margin every delivery asks the cache again, and the
# answer cannot change before the window's key expires: a wide margin only costs round trips
# (0.3 s was 30 % of all deliveries doing two Redis calls). A larger skew only delays a delivery
# to the next window's run or the sweeper; it never loses one.
_CLOCK_SAFETY = 0.05


def schedule_processing() -> None:
    """Ask a worker to drain received webhooks, debounced so a burst enqueues two tasks, not N.

    The first delivery of a window enqueues a run now (leading edge) and one when the window
    closes (trailing edge); deliveries inside the window enqueue nothing, and the trailing run,
    which starts after they committed, picks them up. This holds even when the cache is not
    shared between web and worker processes (then the window is simply not shortened). The cache
    value is the time the window opened, so a process that finds a window open knows when its
    trailing run comes and skips the cache until shortly before then.
    """
    global _covered_until
    from tracking.tasks import webhook_process

    if settings.CELERY_TASK_ALWAYS_EAGER:
        webhook_process.delay()
        return
    now = time.time()
    if now < _covered_until:
        return
    window = PROCESSING_DEBOUNCE_SECONDS
    try:
        if cache.add(PROCESSING_PENDING_KEY, now, timeout=window):
            webhook_process.apply_async(**processing_route())
            webhook_process.apply_async(countdown=window, **processing_route())
            _covered_until = now + window - _CLOCK_SAFETY
            return
        opened = cache.get(PROCESSING_PENDING_KEY)
        if isinstance(opened, float):
            _covered_until = opened + window - _CLOCK_SAFETY
    except Exception as exc:  # broker or cache down: the sweeper enqueues processing later
        logger.warning("webhook processing not enqueued (%s); the sweeper will", exc)


def processing_route() -> dict[str, str]:
    """A dedicated queue for webhook processing when TRACKING_INGEST_QUEUE names one."""
    queue = settings.TRACKING_INGEST_QUEUE
    return {"queue": queue} if queue else {}


# --- processing -------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    claimed: int = 0
    processed: int = 0
    duplicate: int = 0
    failed: int = 0
    events_received: int = 0
    events_new: int = 0

    def add(self, other: BatchOutcome) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Prepared:
    hook: InboundWebhook
    carrier: str
    number: str
    events: list[ParsedEvent]
    origin: ScanOrigin = ScanOrigin.OTHER
    shipment: Shipment | None = None
    keys: list[str] = field(default_factory=list)


def webhooks_drain(*, time_budget: float = 60.0) -> tuple[BatchOutcome, bool]:
    """Process received webhooks batch after batch; (outcome, True when all were drained)."""
    cache.delete(PROCESSING_PENDING_KEY)
    total = BatchOutcome()
    started = time.monotonic()
    while True:
        outcome = webhooks_process_batch()
        total.add(outcome)
        if outcome.claimed < settings.TRACKING_WEBHOOK_BATCH:
            return total, True
        if time.monotonic() - started > time_budget:
            return total, False


def _claim(limit: int, ids: Sequence[int] | None = None) -> list[int]:
    with transaction.atomic():
        due = InboundWebhook.objects.select_for_update(skip_locked=True).filter(
            state=InboundWebhookState.RECEIVED
        )
        if ids is not None:
            due = due.filter(pk__in=ids)
        claimed = list(due.order_by("pk").values_list("pk", flat=True)[:limit])
        if claimed:
            InboundWebhook.objects.filter(pk__in=claimed).update(
                state=InboundWebhookState.PROCESSING,
                claimed_at=timezone.now(),
                attempts=F("attempts") + 1,
            )
    return claimed


def webhooks_process_batch(
    *, limit: int | None = None, ids: Sequence[int] | None = None
) -> BatchOutcome:
    """Claim up to `limit` received webhooks and process them; safe to run in parallel."""
    claimed = _claim(limit or settings.TRACKING_WEBHOOK_BATCH, ids)
    outcome = BatchOutcome(claimed=len(claimed))
    if not claimed:
        return outcome
    hooks = list(InboundWebhook.objects.filter(pk__in=claimed).order_by("pk"))
    tracking_hooks = [h for h in hooks if h.source != WebhookSource.SHOPIFY]
    store_hooks = [h for h in hooks if h.source == WebhookSource.SHOPIFY]
    if tracking_hooks:
        outcome.add(_process_tracking(tracking_hooks))
    for hook in store_hooks:
        outcome.add(_process_store(hook))
    return outcome


def _fail(hook: InboundWebhook, reason: str) -> BatchOutcome:
    InboundWebhook.objects.filter(pk=hook.pk).update(
        state=InboundWebhookState.FAILED, error=reason[:4000], processed_at=timezone.now()
    )
    logger.info("inbound webhook %s failed: %s", hook.pk, reason)
    return BatchOutcome(failed=1)


def _payload(hook: InboundWebhook) -> Any:
    try:
        return json.loads(bytes(hook.body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise IngestError(f"body is not JSON: {exc}") from exc


# Event types each source sends that carry tracking; others (EasyPost batch or shipment events,
# AfterShip EDD-only notices, …) are acknowledged and kept, with nothing to record.
TRACKING_TOPICS = {
    WebhookSource.EASYPOST: ("tracker.created", "tracker.updated"),
    WebhookSource.AFTERSHIP: ("tracking_update",),
    WebhookSource.SHIPPO: ("track_updated",),
}


class _NotTracking(Exception):
    """A verified webhook of a topic that carries no scans."""


def _prepare(hook: InboundWebhook) -> _Prepared:
    topics = TRACKING_TOPICS.get(WebhookSource(hook.source))
    if topics and hook.topic and hook.topic not in topics:
        raise _NotTracking(hook.topic)
    adapter = get_adapter(hook.source)
    payload = _payload(hook)
    try:
        events = adapter.parse(payload)
        if adapter.tracking_ref is None:
            raise IngestError(f"{hook.source} adapter cannot name the shipment of a payload")
        carrier, number = adapter.tracking_ref(payload)
    except CarrierParseError as exc:
        raise IngestError(f"cannot parse the {hook.source} payload: {exc}") from exc
    number = tracking_number_normalise(number or "")
    if not number:
        raise IngestError("the payload names no tracking number")
    return _Prepared(
        hook,
        carrier_slug(carrier) if carrier else "",
        number,
        list(events),
        origin_of_kind(adapter.kind),
    )


def _candidate_carriers(number: str) -> list[str]:
    return [c.carrier for c in candidate_carriers(number)]


def shipment_identify(
    *, candidates: Sequence[Shipment], carrier: str, number: str, events: Sequence[ParsedEvent]
) -> Shipment | None:
    """Pick the shipment a set of scans belongs to among same-number shipments of one merchant.

    Carriers recycle numbers, so the shipment must have shipped (or been registered) within
    TRACKING_SHIPMENT_WINDOW before the earliest scan; the most recent such shipment wins. A
    number given without a carrier is matched against the carriers its format suggests, best first.
    """
    carriers = [carrier] if carrier else _candidate_carriers(number)
    times = [e.occurred_at for e in events]
    earliest = min(times) if times else timezone.now()
    latest = max(times) if times else timezone.now()
    for name in carriers:
        fitting = [
            s
            for s in candidates
            if s.carrier == name
            and s.tracking_number == number
            and earliest - settings.TRACKING_SHIPMENT_WINDOW
            <= _reference_time(s)
            <= latest + IDENTITY_GRACE
        ]
        if fitting:
            return max(fitting, key=_reference_time)
    return None


def _reference_time(shipment: Shipment) -> datetime:
    return shipment.shipped_at or shipment.created_at


def _resolve_shipments(prepared: Sequence[_Prepared]) -> None:
    merchants = {p.hook.merchant_id for p in prepared}
    numbers = {p.number for p in prepared}
    candidates: dict[tuple[int, str], list[Shipment]] = {}
    for shipment in Shipment.objects.filter(
        merchant_id__in=merchants, tracking_number__in=numbers
    ).select_related("merchant"):
        candidates.setdefault((shipment.merchant_id, shipment.tracking_number), []).append(shipment)
    for item in prepared:
        item.shipment = shipment_identify(
            candidates=candidates.get((item.hook.merchant_id, item.number), []),
            carrier=item.carrier,
            number=item.number,
            events=item.events,
        )
        if item.shipment is not None:
            # Events of a number given without a carrier belong to the matched carrier.
            item.events = [
                e if e.carrier == item.shipment.carrier else _with_carrier(e, item.shipment)
                for e in item.events
            ]
            item.keys = [parsed_event_key(e) for e in item.events]


def _with_carrier(event: ParsedEvent, shipment: Shipment) -> ParsedEvent:
    from dataclasses import replace

    return replace(event, carrier=shipment.carrier, tracking_number=shipment.tracking_number)


def _process_tracking(hooks: Sequence[InboundWebhook]) -> BatchOutcome:
    outcome = BatchOutcome()
    prepared: list[_Prepared] = []
    for hook in hooks:
        try:
            prepared.append(_prepare(hook))
        except IngestError as exc:
            outcome.add(_fail(hook, str(exc)))
        except _NotTracking:
            InboundWebhook.objects.filter(pk=hook.pk).update(
                state=InboundWebhookState.DUPLICATE, processed_at=timezone.now()
            )
            outcome.duplicate += 1
        except DatabaseError:
            raise
        except Exception as exc:  # a bug met by odd input: keep it visible, don't loop on it
            logger.exception("inbound webhook %s: unexpected error while parsing", hook.pk)
            outcome.add(_fail(hook, f"unexpected error while parsing: {exc!r}"))
    _resolve_shipments(prepared)
    matched: list[_Prepared] = []
    for item in prepared:
        if item.shipment is None:
            label = item.carrier or "any carrier its format suggests"
            outcome.add(
                _fail(
                    item.hook,
                    f"unknown shipment: no shipment of {label} number {item.number} "
                    "registered within the ship-date window (replay once it exists)",
                )
            )
        else:
            matched.append(item)
    if not matched:
        return outcome
    try:
        outcome.add(_record(matched))
    except DatabaseError:
        # One bad row must not block the batch: redo one by one and fail only the culprit.
        logger.exception("batch of %s webhooks failed; retrying one by one", len(matched))
        for item in matched:
            try:
                outcome.add(_record([item]))
            except DatabaseError as exc:
                outcome.add(_fail(item.hook, f"could not record the events: {exc}"))
    return outcome


def _record(items: Sequence[_Prepared]) -> BatchOutcome:
    outcome = BatchOutcome()
    with transaction.atomic():
        results = shipments_record_events(
            batch=[
                ShipmentEvents(item.shipment, item.events, EventSource.WEBHOOK, item.origin)
                for item in items
                if item.shipment is not None
            ]
        )
        new_keys = {(r.shipment_id, k) for r in results for k in r.new_keys}
        now = timezone.now()
        by_state: dict[tuple[str, int], list[int]] = {}
        for item in items:
            assert item.shipment is not None
            fresh = [k for k in dict.fromkeys(item.keys) if (item.shipment.pk, k) in new_keys]
            new_keys.difference_update((item.shipment.pk, k) for k in fresh)
            state = InboundWebhookState.PROCESSED if fresh else InboundWebhookState.DUPLICATE
            by_state.setdefault((state, len(fresh)), []).append(item.hook.pk)
            outcome.events_received += len(item.events)
            outcome.events_new += len(fresh)
            if fresh:
                outcome.processed += 1
            else:
                outcome.duplicate += 1
        for (final_state, count), ids in by_state.items():
            InboundWebhook.objects.filter(pk__in=ids).update(
                state=final_state, events_new=count, error="", processed_at=now
            )
    return outcome


def _process_store(hook: InboundWebhook) -> BatchOutcome:
    from tracking.shopify_sync import ShopifyPayloadError, shopify_webhook_apply

    try:
        payload = _payload(hook)
        with transaction.atomic():
            result = shopify_webhook_apply(
                merchant=Merchant.objects.get(pk=hook.merchant_id),
                topic=hook.topic,
                payload=payload,
            )
            InboundWebhook.objects.filter(pk=hook.pk).update(
                state=InboundWebhookState.PROCESSED
                if result.changed
                else InboundWebhookState.DUPLICATE,
                events_new=result.events_new,
                error="",
                processed_at=timezone.now(),
            )
    except (IngestError, ShopifyPayloadError, DomainError, CarrierParseError) as exc:
        return _fail(hook, _describe(exc))
    except DatabaseError:
        raise
    except Exception as exc:  # a bug met by odd input: keep it visible, don't loop on it
        logger.exception("inbound webhook %s: unexpected error", hook.pk)
        return _fail(hook, f"unexpected error: {exc!r}")
    return BatchOutcome(
        processed=int(result.changed),
        duplicate=int(not result.changed),
        events_new=result.events_new,
    )


def _describe(exc: Exception) -> str:
    fields = getattr(exc, "fields", None)
    if isinstance(fields, dict) and fields:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        return f"{exc}: {detail}"
    return str(exc)


# --- ops --------------------------------------------------------------------------------------


def inbound_webhook_replay(*, webhook: InboundWebhook) -> InboundWebhook:
    """Process a stored webhook again (after a fix): back to received, then the normal pipeline."""
    updated = InboundWebhook.objects.filter(
        pk=webhook.pk,
        state__in=[
            InboundWebhookState.FAILED,
            InboundWebhookState.DUPLICATE,
            InboundWebhookState.PROCESSED,
        ],
    ).update(state=InboundWebhookState.RECEIVED, error="", processed_at=None, claimed_at=None)
    if not updated:
        raise DomainError("webhook_in_flight", "This webhook is being processed; try again later.")
    transaction.on_commit(schedule_processing, robust=True)
    webhook.refresh_from_db()
    return webhook


MAX_ATTEMPTS = 5


def webhooks_release_stuck() -> int:
    """Return rows claimed by a worker that died (claimed too long ago) to the queue; a row that
    keeps killing its worker is failed after MAX_ATTEMPTS claims instead."""
    cutoff = timezone.now() - settings.TRACKING_WEBHOOK_STUCK_AFTER
    stuck = InboundWebhook.objects.filter(
        state=InboundWebhookState.PROCESSING, claimed_at__lt=cutoff
    )
    stuck.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=InboundWebhookState.FAILED,
        error=f"gave up after {MAX_ATTEMPTS} attempts that never finished (worker lost)",
        processed_at=timezone.now(),
    )
    return stuck.update(state=InboundWebhookState.RECEIVED)


def webhooks_waiting() -> bool:
    return InboundWebhook.objects.filter(state=InboundWebhookState.RECEIVED).exists()
