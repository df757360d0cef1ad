"""The outbox: rollback publishes nothing, commit dispatches once, handlers run once per event."""

from __future__ import annotations

from datetime import timedelta

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


# --- publish_many: one INSERT, one dispatch message per transaction ----------------------------


@pytest.fixture
def started_tasks():
    """Names and arguments of the tasks that ran (eager Celery runs them in this process)."""
    from celery.signals import task_prerun

    started: list[tuple[str, tuple]] = []

    def record(sender=None, args=None, **_: object) -> None:
        started.append((sender.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    yield started
    task_prerun.disconnect(record)


def _specs(merchant, n: int, type: str = "probe.happened") -> list[outbox.EventSpec]:
    return [
        outbox.EventSpec(merchant=merchant, type=type, subject=f"x:{i}", data={"i": i})
        for i in range(n)
    ]


def test_publish_many_rollback_publishes_nothing(merchant_a, started_tasks):
    seen: list[str] = []
    with outbox.subscribed("probe.happened", "tests.probe", lambda e: seen.append(str(e.id))):

        def publish_then_fail() -> None:
            with transaction.atomic():
                outbox.publish_many(events=_specs(merchant_a, 3))
                assert DomainEvent.objects.count() == 3
                raise RuntimeError("roll back")

        with pytest.raises(RuntimeError):
            publish_then_fail()
    assert DomainEvent.objects.count() == 0
    assert seen == []
    assert started_tasks == []


def test_publish_many_commits_with_one_insert_and_one_dispatch_message(
    merchant_a, merchant_b, started_tasks, django_assert_num_queries
):
    seen: list[tuple[str, str]] = []
    with (
        outbox.subscribed(
            "probe.happened", "tests.probe", lambda e: seen.append((str(e.id), e.subject))
        ),
        transaction.atomic(),
    ):
        with django_assert_num_queries(1):
            events = outbox.publish_many(events=[*_specs(merchant_a, 3), *_specs(merchant_b, 2)])
        assert started_tasks == []  # nothing leaves before the commit
    ids = [str(e.id) for e in events]
    assert started_tasks == [("postpurchase.events_dispatch_batch", (ids,))]
    assert sorted(seen) == sorted(zip(ids, ["x:0", "x:1", "x:2", "x:0", "x:1"], strict=True))
    stored = {str(e.id): e for e in DomainEvent.objects.all()}
    assert set(stored) == set(ids)
    assert {stored[ids[3]].merchant_id, stored[ids[0]].merchant_id} == {
        merchant_b.pk,
        merchant_a.pk,
    }
    assert stored[ids[4]].data == {"i": 1}
    assert all(e.dispatched_at is not None and e.dispatch_attempts == 1 for e in stored.values())
    assert HandlerRun.objects.filter(state=HandlerRunState.DONE).count() == 5


def test_publish_many_splits_large_batches_into_bounded_messages(merchant_a, started_tasks):
    with transaction.atomic():
        outbox.publish_many(events=_specs(merchant_a, outbox.DISPATCH_BATCH_SIZE + 1))
    sizes = [len(args[0]) for name, args in started_tasks]
    assert sizes == [outbox.DISPATCH_BATCH_SIZE, 1]
    assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_batch_dispatch_runs_each_handler_once_per_event(merchant_a):
    calls: list[tuple[str, str]] = []
    first = lambda e: calls.append(("first", str(e.id)))  # noqa: E731
    second = lambda e: calls.append(("second", str(e.id)))  # noqa: E731
    with (
        outbox.subscribed("probe.happened", "tests.first", first),
        outbox.subscribed("probe.happened", "tests.second", second),
    ):
        with transaction.atomic():
            events = outbox.publish_many(events=_specs(merchant_a, 4))
        ids = [str(e.id) for e in events]
        # The message is redelivered and the sweeper sends the same ids: no second effect.
        DomainEvent.objects.update(dispatched_at=None)
        assert outbox.events_dispatch_many(event_ids=ids) == []
        assert outbox.events_dispatch_many(event_ids=ids) == []
    assert sorted(calls) == sorted([(h, i) for h in ("first", "second") for i in ids])
    assert set(HandlerRun.objects.values_list("attempts", flat=True)) == {1}
    assert set(DomainEvent.objects.values_list("dispatch_attempts", flat=True)) == {2}


def test_batch_dispatch_isolates_a_failing_handler_and_the_sweeper_retries_it(merchant_a, settings):
    from postpurchase.tasks import events_sweep

    settings.OUTBOX_SWEEP_AFTER = timedelta(0)
    broken = {"on": True}
    done: list[str] = []

    def handler(event: DomainEvent) -> None:
        if event.subject == "x:1" and broken["on"]:
            raise ValueError("downstream broke")
        done.append(event.subject)

    with outbox.subscribed("probe.happened", "tests.flaky", handler):
        with transaction.atomic():
            events = outbox.publish_many(events=_specs(merchant_a, 3))
        assert sorted(done) == ["x:0", "x:2"]
        failing = DomainEvent.objects.get(pk=events[1].pk)
        assert failing.dispatched_at is None
        run = HandlerRun.objects.get(event=failing)
        assert run.state == HandlerRunState.RETRYING
        assert "downstream broke" in run.last_error

        broken["on"] = False
        HandlerRun.objects.filter(pk=run.pk).update(next_attempt_at=None)
        assert events_sweep() == 1
    assert sorted(done) == ["x:0", "x:1", "x:2"]
    assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_a_batch_handler_runs_once_over_a_batch_and_never_again(merchant_a):
    one_by_one: list[str] = []
    batches: list[list[str]] = []
    with outbox.subscribed(
        "probe.happened",
        "tests.batched",
        lambda e: one_by_one.append(e.subject),
        batch_fn=lambda events: batches.append([e.subject for e in events]),
    ):
        with transaction.atomic():
            events = outbox.publish_many(events=_specs(merchant_a, 5))
        assert batches == [[f"x:{n}" for n in range(5)]]
        assert one_by_one == []
        runs = HandlerRun.objects.filter(handler="tests.batched")
        assert runs.count() == 5
        assert set(runs.values_list("state", "attempts")) == {(HandlerRunState.DONE, 1)}
        # A redelivered batch message or the sweeper: no second effect, batched or not.
        DomainEvent.objects.update(dispatched_at=None)
        ids = [str(e.id) for e in events]
        assert outbox.events_dispatch_many(event_ids=ids) == []
        assert outbox.event_dispatch(event_id=ids[0]) is True
    assert len(batches) == 1
    assert one_by_one == []
    assert not DomainEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_a_failing_batch_is_undone_and_each_event_runs_alone(merchant_a):
    written: list[str] = []

    def batch(events) -> None:  # type: ignore[no-untyped-def]
        for event in events:
            DomainEvent.objects.filter(pk=event.pk).update(subject=f"{event.subject}:batched")
            written.append(event.subject)
        raise ValueError("one of them is bad")

    def single(event: DomainEvent) -> None:
        if event.subject == "x:1":
            raise ValueError("bad event")
        written.append(f"{event.subject}:alone")

    with (
        outbox.subscribed("probe.happened", "tests.batched", single, batch_fn=batch),
        transaction.atomic(),
    ):
        events = outbox.publish_many(events=_specs(merchant_a, 3))
    # The batch's writes were rolled back with it; the good events ran alone, the bad one waits.
    assert not DomainEvent.objects.filter(subject__endswith=":batched").exists()
    assert [w for w in written if w.endswith(":alone")] == ["x:0:alone", "x:2:alone"]
    bad = HandlerRun.objects.get(event=events[1], handler="tests.batched")
    assert bad.state == HandlerRunState.RETRYING
    assert "bad event" in bad.last_error
    assert DomainEvent.objects.filter(dispatched_at__isnull=True).get().pk == events[1].pk
