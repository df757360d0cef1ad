"""The enqueue's ledger rows: only messages the database inserted get an event (and a due send)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifications.ledger_rows import messages_insert_ledgered
from notifications.models import DueSend, Message, MessageEvent, MessageStatus
from postpurchase.models import Merchant

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def _message(
    merchant: Merchant, key: str, status: str = MessageStatus.QUEUED, reason: str = ""
) -> Message:
    return Message(
        merchant=merchant,
        idempotency_key=key,
        enqueue_token="t" * 32,
        event_id=f"evt-{key}",
        trigger="delivered",
        channel="email",
        purpose="transactional",
        language="ja",
        to_address=f"{key}@example.com",
        recipient_name='Ünïcode 名前 "quoted" \\ back',
        time_zone="Asia/Tokyo",
        subject="件名: it's <here>",
        body_text="line one\nline two\ttab",
        body_html="<p>ok &amp; \u00a0</p>",
        headers={"List-Unsubscribe": "<https://x.example/u/1/>", "push_keys": {"a": "b"}},
        link_url="https://x.example/t/1/",
        status=status,
        status_reason=reason,
    )


def test_only_inserted_rows_are_ledgered_with_their_first_event_and_due_send(merchant_a):
    existing = _message(merchant_a, "k-dup")
    existing.save()
    rows = [
        (_message(merchant_a, "k-queued"), None),
        (_message(merchant_a, "k-dup"), None),  # inserted by someone else first
        (_message(merchant_a, "k-held", MessageStatus.HELD, "quiet hours in Asia/Tokyo"), DUE),
        (_message(merchant_a, "k-supp", MessageStatus.SUPPRESSED, "opted out (STOP)"), None),
    ]

    created = messages_insert_ledgered(rows=rows, now=NOW)

    assert [m.idempotency_key for m in created] == ["k-queued", "k-held", "k-supp"]
    assert all(m.pk and not m._state.adding and m.created_at for m in created)
    assert Message.objects.count() == 4
    events = MessageEvent.objects.filter(merchant=merchant_a).order_by("message_id")
    assert [(e.message_id, e.type, e.detail, e.occurred_at) for e in events] == [
        (created[0].pk, "queued", "", NOW),
        (created[1].pk, "held", "quiet hours in Asia/Tokyo", NOW),
        (created[2].pk, "suppressed", "opted out (STOP)", NOW),
    ]
    assert list(DueSend.objects.values_list("message_id", "due_at", "merchant_id")) == [
        (created[1].pk, DUE, merchant_a.pk)
    ]
    stored = Message.objects.get(pk=created[0].pk)
    original = rows[0][0]
    for field in ("recipient_name", "subject", "body_text", "body_html", "headers", "time_zone"):
        assert getattr(stored, field) == getattr(original, field), field
    assert stored.status == MessageStatus.QUEUED
    assert stored.attempts == 0
    assert stored.is_test is False
    assert stored.sent_at is None
    assert stored.created_at == original.created_at


def test_a_batch_whose_keys_all_exist_inserts_and_ledgers_nothing(merchant_a):
    _message(merchant_a, "k1").save()
    assert messages_insert_ledgered(rows=[(_message(merchant_a, "k1"), None)], now=NOW) == []
    assert not MessageEvent.objects.exists()
    assert messages_insert_ledgered(rows=[], now=NOW) == []
