"""The ops site: platform staff only; events with their handler runs; retrying parked runs."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from postpurchase import outbox
from postpurchase.models import DomainEvent, HandlerRun, HandlerRunState, MerchantRole

pytestmark = pytest.mark.django_db(transaction=True)


def test_merchant_staff_cannot_enter_ops(client, make_staff, merchant_a):
    client.force_login(make_staff("olive", (merchant_a, MerchantRole.OWNER)))
    response = client.get(reverse("ops:index"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_ops_group_member_sees_every_merchants_events(client, ops_user, merchant_a, merchant_b):
    with transaction.atomic():
        event_a = outbox.publish(
            merchant=merchant_a, type="tests.thing_happened", subject="order:1"
        )
        event_b = outbox.publish(
            merchant=merchant_b, type="tests.thing_happened", subject="order:1"
        )
    client.force_login(ops_user)
    response = client.get(reverse("ops:postpurchase_domainevent_changelist"))
    assert response.status_code == 200
    assert {e.pk for e in response.context["cl"].result_list} == {event_a.pk, event_b.pk}
    detail = client.get(reverse("ops:postpurchase_domainevent_change", args=[event_a.pk]))
    assert detail.status_code == 200


def test_ops_user_cannot_manage_user_accounts(client, ops_user):
    client.force_login(ops_user)
    assert client.get(reverse("ops:auth_user_changelist")).status_code == 200
    assert client.get(reverse("ops:auth_user_add")).status_code == 403


def test_retry_action_runs_a_parked_handler_again(client, ops_user, merchant_a, settings):
    settings.OUTBOX_HANDLER_MAX_ATTEMPTS = 1
    healthy = {"now": False}
    seen: list[str] = []

    def downstream(event: DomainEvent) -> None:
        if not healthy["now"]:
            raise ConnectionError("downstream is down")
        seen.append(str(event.pk))

    with outbox.subscribed("tests.thing_happened", "tests.downstream", downstream):
        with transaction.atomic():
            event = outbox.publish(
                merchant=merchant_a, type="tests.thing_happened", subject="order:9"
            )
        run = HandlerRun.objects.get(event=event, handler="tests.downstream")
        assert run.state == HandlerRunState.PARKED

        client.force_login(ops_user)
        listing = client.get(reverse("ops:postpurchase_handlerrun_changelist"))
        parked = [r.pk for r in listing.context["cl"].result_list]  # parked ones by default
        assert parked == [run.pk]

        healthy["now"] = True
        response = client.post(
            reverse("ops:postpurchase_handlerrun_changelist"),
            {"action": "retry_runs", "_selected_action": [run.pk]},
        )
        assert response.status_code == 302

    run.refresh_from_db()
    assert run.state == HandlerRunState.DONE
    assert seen == [str(event.pk)]
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_ops_can_pause_a_periodic_task(client, ops_user):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
    task = PeriodicTask.objects.create(
        name="events-sweep", task="postpurchase.events_sweep", interval=every
    )
    client.force_login(ops_user)
    url = reverse("ops:django_celery_beat_periodictask_changelist")
    assert client.get(url).status_code == 200
    response = client.post(url, {"action": "disable_tasks", "_selected_action": [task.pk]})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.enabled is False
