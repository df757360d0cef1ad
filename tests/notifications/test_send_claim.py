"""Concurrent send tasks for the same messages: each message is claimed, and sent, once."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connections

from notifications.consent import contact_opt_out
from notifications.models import (
    Channel,
    ConsentSource,
    Message,
    MessageEvent,
    MessageStatus,
    TriggerToggle,
)
from notifications.sending import messages_send
from notifications.services import NotificationRequest, notifications_enqueue_many


def _email_only_requests(merchant, shopper, notice, prefix: str, count: int):  # type: ignore[no-untyped-def]
    """`count` delivered notifications to s<n>@example.com, email the only channel on."""
    for channel in (Channel.SMS, Channel.PUSH):
        TriggerToggle.objects.create(
            merchant=merchant, trigger="delivered", channel=channel, enabled=False
        )
    return [
        NotificationRequest(
            trigger="delivered",
            recipient=type(shopper)(**{**shopper.__dict__, "email": f"s{n}@example.com"}),
            context=notice,
            event_id=f"{prefix}:{n}",
        )
        for n in range(count)
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_send_tasks_send_each_message_once(
    merchant_a, shopper, notice, daytime, monkeypatch
):
    requests = _email_only_requests(merchant_a, shopper, notice, "race", 30)
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


@pytest.mark.django_db
def test_a_send_batch_ledgers_each_outcome_once_with_its_details(
    merchant_a, shopper, notice, daytime, monkeypatch
):
    requests = _email_only_requests(merchant_a, shopper, notice, "ledger", 5)
    monkeypatch.setattr("notifications.services.dispatch_send", lambda message_ids: None)
    ids = [m.pk for m in notifications_enqueue_many(merchant=merchant_a, requests=requests)]
    # A STOP between queueing and sending: that one is suppressed, the others sent.
    contact_opt_out(
        merchant=merchant_a,
        channel=Channel.EMAIL,
        address="s3@example.com",
        source=ConsentSource.UNSUBSCRIBE_LINK,
    )

    summary = messages_send(message_ids=ids)

    assert (summary.sent, summary.suppressed) == (4, 1)
    for message in Message.objects.filter(pk__in=ids):
        events = list(message.events.values_list("type", "detail", "occurred_at", "merchant_id"))
        if message.to_address == "s3@example.com":
            assert message.status == MessageStatus.SUPPRESSED
            assert [e[0] for e in events] == ["queued", "suppressed"]
            assert events[1][1] == message.status_reason
            continue
        assert message.status == MessageStatus.SENT
        assert message.provider == "email"
        assert message.provider_message_id.startswith("<n")
        assert events[0][0] == "queued"
        assert events[1:] == [("sent", message.provider_message_id, message.sent_at, merchant_a.pk)]
