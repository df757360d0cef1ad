"""The send task's loop: after its own messages it goes on with other queued ones, claims each
next batch while the current one is with the provider, and still sends every message once."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connections

from notifications import channels, sending
from notifications.consent import contact_opt_out
from notifications.models import (
    Channel,
    ConsentSource,
    DueSend,
    Message,
    MessageEvent,
    MessageStatus,
    TriggerToggle,
)
from notifications.send_loop import messages_send_loop
from notifications.services import NotificationRequest, notifications_enqueue_many
from notifications.tasks import messages_send as messages_send_task


def _left_queued(merchant, shopper, notice, monkeypatch, count: int, prefix: str = "loop"):  # type: ignore[no-untyped-def]
    """`count` email-only messages left queued, as if their send tasks had not run yet."""
    for channel in (Channel.SMS, Channel.PUSH):
        TriggerToggle.objects.get_or_create(
            merchant=merchant, trigger="delivered", channel=channel, defaults={"enabled": False}
        )
    monkeypatch.setattr("notifications.services.dispatch_send", lambda message_ids: None)
    requests = [
        NotificationRequest(
            trigger="delivered",
            recipient=type(shopper)(**{**shopper.__dict__, "email": f"{prefix}{n}@example.com"}),
            context=notice,
            event_id=f"{prefix}:{n}",
        )
        for n in range(count)
    ]
    return [m.pk for m in notifications_enqueue_many(merchant=merchant, requests=requests)]


@pytest.mark.django_db
def test_the_loop_goes_on_with_other_queued_messages_and_their_tasks_find_nothing(
    merchant_a, shopper, notice, daytime, monkeypatch, settings
):
    settings.NOTIFICATIONS_SEND_BATCH = 4
    ids = _left_queued(merchant_a, shopper, notice, monkeypatch, 10)

    summary = messages_send_loop(message_ids=ids[:2], seconds=30)

    assert (summary.claimed, summary.sent) == (10, 10)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"loop{n}@example.com" for n in range(10))
    rows = Message.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", "attempts")) == {(MessageStatus.SENT, 1)}
    assert MessageEvent.objects.filter(message_id__in=ids, type="sent").count() == 10
    # The other messages' own tasks come later: nothing left for them.
    assert messages_send_task(ids[2:6]) == 0
    assert len(mail.outbox) == 10


@pytest.mark.django_db
def test_without_loop_seconds_a_task_sends_only_its_own_messages(
    merchant_a, shopper, notice, daytime, monkeypatch, settings
):
    settings.NOTIFICATIONS_SEND_LOOP_SECONDS = 0
    ids = _left_queued(merchant_a, shopper, notice, monkeypatch, 5)

    assert messages_send_task(ids[:2]) == 2

    statuses = dict(Message.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["sent", "sent", "queued", "queued", "queued"]


@pytest.mark.django_db
def test_the_loop_checks_consent_again_and_leaves_held_and_test_messages(
    merchant_a, shopper, notice, daytime, monkeypatch
):
    ids = _left_queued(merchant_a, shopper, notice, monkeypatch, 4)
    # A STOP after queueing, a message held for a retry, a console test message.
    contact_opt_out(
        merchant=merchant_a,
        channel=Channel.EMAIL,
        address="loop1@example.com",
        source=ConsentSource.UNSUBSCRIBE_LINK,
    )
    Message.objects.filter(pk=ids[2]).update(status=MessageStatus.HELD)
    Message.objects.filter(pk=ids[3]).update(is_test=True)

    summary = messages_send_loop(message_ids=[], seconds=30)

    assert (summary.claimed, summary.sent, summary.suppressed) == (2, 1, 1)
    assert [m.to[0] for m in mail.outbox] == ["loop0@example.com"]
    statuses = dict(Message.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["sent", "suppressed", "held", "queued"]
    assert MessageEvent.objects.filter(message_id=ids[1], type="suppressed").count() == 1
    assert not DueSend.objects.exists()


class _GatedChannel:
    """Email channel stand-in whose first delivery waits until the loop has claimed the next
    batch: it can only finish if claiming overlaps sending (no database access here)."""

    provider = "gated"
    next_claimed = threading.Event()
    log: list[str] = []

    def __init__(self, *, name: str) -> None:
        self.name = name

    def send_many(self, messages):  # type: ignore[no-untyped-def]
        self.log.append(f"deliver {len(messages)}")
        if len(self.log) == 1:
            self.log.append("next claimed" if self.next_claimed.wait(10) else "not claimed")
        return [
            sending.SendResult(provider=self.provider, provider_message_id=f"g{m.message_id}")
            for m in messages
        ]

    def send(self, message):  # type: ignore[no-untyped-def]  # pragma: no cover - send_many used
        raise NotImplementedError


@pytest.mark.django_db
def test_the_next_batch_is_claimed_while_the_current_one_is_being_sent(
    merchant_a, shopper, notice, daytime, monkeypatch, settings
):
    settings.NOTIFICATIONS_SEND_BATCH = 3
    settings.NOTIFICATIONS_CHANNELS = {
        **settings.NOTIFICATIONS_CHANNELS,
        "email": f"{__name__}._GatedChannel",
    }
    channels.channels_reset()
    _GatedChannel.log.clear()
    _GatedChannel.next_claimed.clear()
    ids = _left_queued(merchant_a, shopper, notice, monkeypatch, 7)
    claim_queued = sending.claim_queued

    def claim_and_signal(limit: int):  # type: ignore[no-untyped-def]
        claimed = claim_queued(limit)
        if claimed:
            _GatedChannel.next_claimed.set()
        return claimed

    monkeypatch.setattr("notifications.send_loop.claim_queued", claim_and_signal)

    summary = messages_send_loop(message_ids=ids[:3], seconds=30)

    assert _GatedChannel.log == ["deliver 3", "next claimed", "deliver 3", "deliver 1"]
    assert (summary.claimed, summary.sent) == (7, 7)
    assert set(Message.objects.filter(pk__in=ids).values_list("provider", flat=True)) == {"gated"}
    channels.channels_reset()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_loops_and_tasks_send_each_message_once(
    merchant_a, shopper, notice, daytime, monkeypatch, settings
):
    settings.NOTIFICATIONS_SEND_BATCH = 5
    ids = _left_queued(merchant_a, shopper, notice, monkeypatch, 60, prefix="race")
    barrier = threading.Barrier(6)
    sent: list[int] = []
    errors: list[BaseException] = []

    def task(own: list[int]) -> None:
        try:
            barrier.wait()
            sent.append(messages_send_loop(message_ids=own, seconds=30).sent)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    shares = [ids[n::3] for n in range(3)] + [[], ids[:10], ids[-10:]]
    threads = [threading.Thread(target=task, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(sent) == 60
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"race{n}@example.com" for n in range(60))
    rows = Message.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", "attempts")) == {(MessageStatus.SENT, 1)}
    assert MessageEvent.objects.filter(message_id__in=ids, type="sent").count() == 60
