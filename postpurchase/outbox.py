"""Domain events through a transactional outbox.

`publish` writes a `DomainEvent` row inside the caller's transaction and, after commit, asks a
Celery task to dispatch it. Dispatch runs every handler registered for the event's type; each
handler's effects commit together with its `HandlerRun` row marked done, so a handler runs at most
once per event even when the event is dispatched twice. A failing handler is retried with backoff
and parked for ops after `OUTBOX_HANDLER_MAX_ATTEMPTS`. `events_sweep` re-dispatches events left
undispatched (broker down, process killed between commit and enqueue).

`publish_many` is the batch form for paths that publish many events in one transaction (webhook
batches, imports): one multi-row INSERT and one after-commit message to `events_dispatch_batch`,
instead of an INSERT and a broker round trip per event. The guarantees are the same: the rows
commit or roll back with the caller's transaction, each handler's run is recorded per event, and
the sweeper finds whatever the message never delivered.
"""

from __future__ import annotations

import json
import logging
import random
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from postpurchase.models import DomainEvent, HandlerRun, HandlerRunState, Merchant

logger = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]
BatchHandler = Callable[[Sequence[DomainEvent]], None]


@dataclass(frozen=True)
class RegisteredHandler:
    name: str
    event_type: str
    fn: Handler
    batch_fn: BatchHandler | None = None


_registry: dict[str, dict[str, RegisteredHandler]] = {}


def register(
    event_type: str, name: str, fn: Handler, *, batch_fn: BatchHandler | None = None
) -> None:
    """Subscribe `fn` to `event_type` under a stable `name` (the key of its run record).

    `batch_fn`, when given, takes many events of the type at once and must have the same effect
    as `fn` on each; `events_dispatch_many` uses it (see `_run_handler_batch`).
    """
    _registry.setdefault(event_type, {})[name] = RegisteredHandler(name, event_type, fn, batch_fn)


def unregister(event_type: str, name: str) -> None:
    _registry.get(event_type, {}).pop(name, None)


def handlers_for(event_type: str) -> list[RegisteredHandler]:
    return list(_registry.get(event_type, {}).values())


@contextmanager
def subscribed(
    event_type: str, name: str, fn: Handler, *, batch_fn: BatchHandler | None = None
) -> Iterator[None]:
    """Register a handler for the duration of a block (used by tests and one-off scripts)."""
    register(event_type, name, fn, batch_fn=batch_fn)
    try:
        yield
    finally:
        unregister(event_type, name)


def publish(
    *, merchant: Merchant, type: str, subject: str, data: Mapping[str, Any] | None = None
) -> DomainEvent:
    """Record a domain event in the current transaction; it is dispatched after commit."""
    event = DomainEvent.objects.create(
        merchant=merchant, type=type, subject=subject, data=dict(data or {})
    )
    event_id = str(event.id)
    transaction.on_commit(lambda: _enqueue_dispatch(event_id), robust=True)
    return event


@dataclass(frozen=True)
class EventSpec:
    """One domain event to publish with `publish_many`."""

    merchant: Merchant
    type: str
    subject: str
    data: Mapping[str, Any] = field(default_factory=dict)


# Ids per dispatch message: keeps a message small and a dispatch task well inside its time limit.
DISPATCH_BATCH_SIZE = 500


def publish_many(*, events: Sequence[EventSpec]) -> list[DomainEvent]:
    """Record many domain events in the current transaction with one INSERT; after commit, one
    message per `DISPATCH_BATCH_SIZE` events asks `events_dispatch_batch` to dispatch them."""
    if not events:
        return []
    rows = [
        DomainEvent(merchant=e.merchant, type=e.type, subject=e.subject, data=dict(e.data))
        for e in events
    ]
    if connection.vendor == "postgresql":
        _insert_as_json(rows)
    else:
        DomainEvent.objects.bulk_create(rows, batch_size=1000)
    ids = [str(row.id) for row in rows]
    for start in range(0, len(ids), DISPATCH_BATCH_SIZE):
        chunk = ids[start : start + DISPATCH_BATCH_SIZE]
        transaction.on_commit(partial(_enqueue_dispatch_batch, chunk), robust=True)
    return rows


def _insert_as_json(rows: Sequence[DomainEvent]) -> None:
    """One INSERT of many events whose only parameter is one JSON document of all the rows.

    `bulk_create` passes eight parameters per row, and psycopg's client-side conversion of a
    query with thousands of parameters cost more than the rest of a webhook batch; one `json.dumps`
    (C) and `jsonb_to_recordset` on the server do the same insert. `created_at` is taken per row,
    as `auto_now_add` would, so events keep their publishing order.
    """
    records = []
    for row in rows:
        row.created_at = timezone.now()
        records.append(
            {
                "id": str(row.id),
                "merchant_id": row.merchant_id,
                "type": row.type,
                "subject": row.subject,
                "data": row.data,
                "created_at": row.created_at.isoformat(),
            }
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO postpurchase_domainevent"
            " (id, merchant_id, type, subject, data, created_at, dispatch_attempts)"
            " SELECT id, merchant_id, type, subject, data, created_at, 0"
            " FROM jsonb_to_recordset(%s::jsonb) AS r(id uuid, merchant_id bigint, type text,"
            " subject text, data jsonb, created_at timestamptz)",
            [json.dumps(records)],
        )
    for row in rows:
        row._state.adding = False  # as bulk_create leaves saved rows


def _enqueue_dispatch_batch(event_ids: list[str]) -> None:
    from postpurchase.tasks import events_dispatch_batch

    try:
        events_dispatch_batch.delay(event_ids)
    except Exception as exc:  # broker down: the sweeper will dispatch them later
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise
        logger.warning(
            "%s events (%s…) not enqueued (%s); the sweeper will dispatch them",
            len(event_ids),
            event_ids[0],
            exc,
        )


def _enqueue_dispatch(event_id: str) -> None:
    from postpurchase.tasks import events_dispatch

    try:
        events_dispatch.delay(event_id)
    except Exception as exc:  # broker down: the sweeper will dispatch it later
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise
        logger.warning("event %s not enqueued (%s); the sweeper will dispatch it", event_id, exc)


def event_dispatch(*, event_id: str) -> bool:
    """Run every due handler of one event; return True when the event is fully dispatched."""
    event = DomainEvent.objects.filter(pk=event_id).first()
    if event is None or event.dispatched_at is not None:
        return True
    DomainEvent.objects.filter(pk=event.pk).update(dispatch_attempts=F("dispatch_attempts") + 1)
    settled = all(_run_handler(event, handler) for handler in handlers_for(event.type))
    if settled:
        DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=True).update(
            dispatched_at=timezone.now()
        )
    return settled


def events_dispatch_many(*, event_ids: Sequence[str]) -> list[str]:
    """Dispatch many events (oldest first), as `event_dispatch` does each; return the ids that
    are not fully dispatched yet (a handler to retry later; the sweeper comes back for them)."""
    events = list(
        DomainEvent.objects.filter(pk__in=list(event_ids), dispatched_at__isnull=True).order_by(
            "created_at", "pk"
        )
    )
    if not events:
        return []
    DomainEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        dispatch_attempts=F("dispatch_attempts") + 1
    )
    done_in_batch = _run_batch_handlers(events)
    settled: list[Any] = []
    unsettled: list[str] = []
    for event in events:
        if all(
            (event.pk, handler.name) in done_in_batch or _run_handler(event, handler)
            for handler in handlers_for(event.type)
        ):
            settled.append(event.pk)
        else:
            unsettled.append(str(event.pk))
    if settled:
        DomainEvent.objects.filter(pk__in=settled, dispatched_at__isnull=True).update(
            dispatched_at=timezone.now()
        )
    return unsettled


def _run_batch_handlers(events: Sequence[DomainEvent]) -> set[tuple[Any, str]]:
    """Run the batch form of each handler that has one over its events; return the (event id,
    handler name) pairs that are done. Everything else goes through `_run_handler` per event."""
    groups: dict[tuple[str, str], list[DomainEvent]] = {}
    handlers: dict[tuple[str, str], RegisteredHandler] = {}
    for event in events:
        for handler in handlers_for(event.type):
            if handler.batch_fn is not None:
                groups.setdefault((event.type, handler.name), []).append(event)
                handlers[(event.type, handler.name)] = handler
    done: set[tuple[Any, str]] = set()
    for key, group in groups.items():
        if len(group) > 1:
            done |= _run_handler_batch(group, handlers[key])
    return done


def _run_handler_batch(
    events: Sequence[DomainEvent], handler: RegisteredHandler
) -> set[tuple[Any, str]]:
    """Run `handler.batch_fn` once over the events whose run of this handler is new.

    The same guarantee as `_run_handler`: the handler's writes and the runs' "done" marks commit
    together. Runs are created if missing and locked (`SKIP LOCKED`: a run another dispatcher
    holds is left to it); only first attempts go into the batch, so a run that failed before
    keeps its backoff and its own traceback. If the batch raises, nothing of it is kept and
    each event goes through `_run_handler` alone (one bad event fails alone).
    """
    assert handler.batch_fn is not None
    HandlerRun.objects.bulk_create(
        [HandlerRun(event=e, handler=handler.name, state=HandlerRunState.RUNNING) for e in events],
        ignore_conflicts=True,
    )
    try:
        with transaction.atomic():
            runs = list(
                HandlerRun.objects.select_for_update(skip_locked=True).filter(
                    event_id__in=[event.pk for event in events],
                    handler=handler.name,
                    state=HandlerRunState.RUNNING,
                    attempts=0,
                )
            )
            if not runs:
                return set()
            locked = {run.event_id for run in runs}
            batch = [event for event in events if event.pk in locked]  # oldest first
            handler.batch_fn(batch)
            HandlerRun.objects.filter(pk__in=[run.pk for run in runs]).update(
                state=HandlerRunState.DONE,
                attempts=F("attempts") + 1,
                last_error="",
                next_attempt_at=None,
                updated_at=timezone.now(),
            )
    except Exception:  # the batch as a whole failed: each event gets its own run and record
        logger.warning(
            "batch handler %s failed over %d events; running them one by one",
            handler.name,
            len(events),
            exc_info=True,
        )
        return set()
    return {(run.event_id, handler.name) for run in runs}


def _handler_run(event: DomainEvent, handler: RegisteredHandler) -> HandlerRun:
    try:
        with transaction.atomic():
            run, _ = HandlerRun.objects.get_or_create(
                event=event, handler=handler.name, defaults={"state": HandlerRunState.RUNNING}
            )
    except IntegrityError:  # a concurrent dispatcher created it first
        run = HandlerRun.objects.get(event=event, handler=handler.name)
    return run


def _run_handler(event: DomainEvent, handler: RegisteredHandler) -> bool:
    """Run one handler once; True when it is settled (done or parked), False to retry later."""
    run = _handler_run(event, handler)
    if run.state in (HandlerRunState.DONE, HandlerRunState.PARKED):
        return True
    with transaction.atomic():
        run = HandlerRun.objects.select_for_update().get(pk=run.pk)
        if run.state in (HandlerRunState.DONE, HandlerRunState.PARKED):
            return True
        now = timezone.now()
        if run.next_attempt_at and run.next_attempt_at > now:
            return False
        run.attempts += 1
        try:
            # The handler's writes and the "done" mark commit together, or neither does.
            with transaction.atomic():
                handler.fn(event)
        except Exception:  # handler isolation: record, back off, park for ops after the limit
            run.last_error = traceback.format_exc(limit=8)[-4000:]
            if run.attempts >= settings.OUTBOX_HANDLER_MAX_ATTEMPTS:
                run.state = HandlerRunState.PARKED
                run.next_attempt_at = None
                logger.error("handler %s parked for event %s", handler.name, event.pk)
            else:
                run.state = HandlerRunState.RETRYING
                run.next_attempt_at = now + _backoff(run.attempts)
        else:
            run.state = HandlerRunState.DONE
            run.last_error = ""
            run.next_attempt_at = None
        run.save()
        return run.state != HandlerRunState.RETRYING


def _backoff(attempt: int) -> timedelta:
    base = min(2**attempt, 300)
    return timedelta(seconds=base * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto


def handler_run_retry(*, run: HandlerRun) -> None:
    """Give a parked handler another go (ops action); the sweeper or a dispatch picks it up."""
    HandlerRun.objects.filter(pk=run.pk).update(
        state=HandlerRunState.RETRYING, attempts=0, next_attempt_at=None
    )
    DomainEvent.objects.filter(pk=run.event_id).update(dispatched_at=None)
    event_id = str(run.event_id)
    transaction.on_commit(lambda: _enqueue_dispatch(event_id), robust=True)


def events_due_for_sweep(*, limit: int | None = None) -> list[str]:
    """Ids of events still undispatched after the sweep delay, oldest first."""
    cutoff = timezone.now() - settings.OUTBOX_SWEEP_AFTER
    ids = (
        DomainEvent.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("id", flat=True)[: limit or settings.OUTBOX_SWEEP_BATCH]
    )
    return [str(i) for i in ids]
