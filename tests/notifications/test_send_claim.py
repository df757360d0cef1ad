"""Concurrent send tasks for the same messages: each message is claimed, and sent, once."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connections

from notifications.models import Channel, Message, MessageEvent, MessageStatus, TriggerToggle
from notifications.sending import messages_send
from notifications.services import NotificationRequest, notifications_enqueue_many


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_send_tasks_send_each_message_once(
    merchant_a, shopper, notice, daytime, monkeypatch
):
    for channel in (Channel.SMS, Channel.PUSH):
        TriggerToggle.objects.create(
            merchant=merchant_a, trigger="delivered", channel=channel, enabled=False
        )
    requests = [
        NotificationRequest(
            trigger="delivered",
            recipient=type(shopper)(**{**shopper.__dict__, "email": f"s{n}@example.com"}),
            context=notice,
            event_id=f"race:{n}",
        )
        for n in range(30)
    ]
    # Left queued (as if the broker had been down), then eight send tasks race for them.
    monkeypatch.setattr("notifications.services.dispatch_send", lambda message_ids: None)
    ids = [m.pk for m in notifications_enqueue_many(merchant=merchant_a, requests=requests)]
    assert len(ids) == 30
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.QUEUED}

    barrier = threading.Barrier(8)
    sent: list[int] = []
    errors: list[BaseException] = []

    def task() -> None:
        try:
            barrier.wait()
            sent.append(messages_send(message_ids=ids).sent)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=task) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(sent) == 30
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"s{n}@example.com" for n in range(30))
    rows = Message.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert set(rows.values_list("attempts", flat=True)) == {1}
    assert MessageEvent.objects.filter(message_id__in=ids, type="sent").count() == 30
