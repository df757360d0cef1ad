"""A real Celery worker on Redis, against the test's PostgreSQL database.

(a) An order upserted through the API reaches a handler registered only in the worker process,
    exactly once, even when the request and the dispatch are repeated.
(b) An event written while the broker is down stays in the outbox and is delivered by the
    sweeper once the broker is back.

The worker runs `tests.worker_settings` (the project's settings plus `tests.probe_app`) on a queue
of its own, and counts the probe handler's calls in Redis, outside any database transaction.
"""

from __future__ import annotations

import logging
import time

import pytest

from postpurchase.models import DomainEvent, HandlerRun, HandlerRunState
from postpurchase.tasks import events_dispatch, events_sweep
from tests.api.payloads import order
from tests.probe_app.apps import PROBE_HANDLER
from tests.worker_support import DELIVERY_TIMEOUT, Worker, broker_down, wait_for

pytestmark = [
    pytest.mark.broker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def _probe_run(event: DomainEvent) -> HandlerRun | None:
    return HandlerRun.objects.filter(
        event=event, handler=PROBE_HANDLER, state=HandlerRunState.DONE
    ).first()


def test_order_upserted_through_the_api_reaches_the_worker_handler_exactly_once(
    worker: Worker, web_side: None, api_client_a
):
    body = order()
    response = api_client_a.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    event = DomainEvent.objects.get(type="order.created")

    run = wait_for("the probe handler's run", lambda: _probe_run(event), worker, DELIVERY_TIMEOUT)
    assert run.attempts == 1
    assert worker.calls(event) == 1

    # The store retries the same call: no second event, so nothing more to deliver.
    again = api_client_a.post("/api/v1/orders/", body, format="json")
    assert again.status_code == 200, again.content
    assert DomainEvent.objects.filter(type="order.created").count() == 1

    # The broker redelivers the dispatch: the event is dispatched again, the handler is not rerun.
    DomainEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    events_dispatch.delay(str(event.pk))
    wait_for(
        "the second dispatch",
        lambda: DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists(),
        worker,
        DELIVERY_TIMEOUT,
    )
    event.refresh_from_db()
    assert event.dispatch_attempts == 2
    assert worker.calls(event) == 1
    assert HandlerRun.objects.get(event=event, handler=PROBE_HANDLER).attempts == 1


def test_event_written_while_the_broker_is_down_is_delivered_by_the_sweeper(
    worker: Worker, web_side: None, api_client_a, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="postpurchase.outbox")
    with broker_down():
        response = api_client_a.post(
            "/api/v1/orders/",
            order(external_id="gid://shop/Order/2002", number="2002"),
            format="json",
        )
    # The store's call succeeded although nothing could be enqueued.
    assert response.status_code == 201, response.content
    event = DomainEvent.objects.get(type="order.created")
    assert f"event {event.pk} not enqueued" in caplog.text
    # Nothing reaches the worker meanwhile (long enough for a delivered task to show).
    time.sleep(3)
    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.dispatch_attempts == 0
    assert not HandlerRun.objects.filter(event=event).exists()
    assert worker.calls(event) == 0

    # The broker is back: the periodic sweeper (sent as beat would) finds and delivers the event.
    events_sweep.delay()
    run = wait_for("the swept event's run", lambda: _probe_run(event), worker, DELIVERY_TIMEOUT)
    assert run.attempts == 1
    assert worker.calls(event) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None
