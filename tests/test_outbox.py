"""The outbox: rollback publishes nothing, commit dispatches once, handlers run once per event."""

from __future__ import annotations

import pytest
from django.db import transaction

from postpurchase import outbox
from postpurchase.models import DomainEvent, HandlerRun, HandlerRunState

pytestmark = pytest.mark.django_db(transaction=True)


def test_rollback_publishes_nothing(merchant_a):
    seen: list[str] = []
    with outbox.subscribed("probe.happened", "tests.probe", lambda e: seen.append(str(e.id))):

        def publish_then_fail() -> None:
            with transaction.atomic():
                outbox.publish(merchant=merchant_a, type="probe.happened", subject="x:1")
                raise RuntimeError("roll back")

        with pytest.raises(RuntimeError):
            publish_then_fail()
    assert DomainEvent.objects.count() == 0
    assert seen == []


def test_commit_dispatches_once_and_records_the_run(merchant_a):
    seen: list[str] = []
    with outbox.subscribed("probe.happened", "tests.probe", lambda e: seen.append(str(e.id))):
        with transaction.atomic():
            event = outbox.publish(merchant=merchant_a, type="probe.happened", subject="x:1")
        assert seen == [str(event.id)]
        # A second dispatch (redelivered task, sweeper) has no second effect.
        DomainEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
        assert outbox.event_dispatch(event_id=str(event.id)) is True
    assert seen == [str(event.id)]
    run = HandlerRun.objects.get(event=event)
    assert run.state == HandlerRunState.DONE
    assert run.attempts == 1


def test_failing_handler_retries_then_parks(merchant_a, settings):
    settings.OUTBOX_HANDLER_MAX_ATTEMPTS = 2
    calls: list[int] = []

    def flaky(event: DomainEvent) -> None:
        calls.append(1)
        raise ValueError("downstream broke")

    with outbox.subscribed("probe.happened", "tests.flaky", flaky):
        with transaction.atomic():
            event = outbox.publish(merchant=merchant_a, type="probe.happened", subject="x:1")
        run = HandlerRun.objects.get(event=event)
        assert run.state == HandlerRunState.RETRYING
        assert "downstream broke" in run.last_error
        HandlerRun.objects.filter(pk=run.pk).update(next_attempt_at=None)
        assert outbox.event_dispatch(event_id=str(event.id)) is True
    run.refresh_from_db()
    assert run.state == HandlerRunState.PARKED
    assert len(calls) == 2
    event.refresh_from_db()
    assert event.dispatched_at is not None
