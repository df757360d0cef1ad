"""notification_enqueue: one message per enabled channel, rendered, ledgered and sent once."""

from __future__ import annotations

import json

import pytest
from django.core import mail

from notifications.models import (
    Channel,
    Message,
    MessageEvent,
    MessageStatus,
    TriggerToggle,
)
from notifications.services import notification_enqueue
from notifications.tokens import tracking_token_read
from postpurchase.errors import DomainError

pytestmark = pytest.mark.django_db


def test_out_for_delivery_sends_email_and_sms_once(
    merchant_a, shopper, notice, daytime, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id="evt-1",
            order_ref="1001",
        )
    assert sorted(m.channel for m in created) == ["email", "sms"]  # no push subscription yet
    assert all(m.status == MessageStatus.SENT for m in Message.objects.all())
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["alice@example.com"]
    assert email.subject == "Alice, your Merino crew sock is out for delivery today"
    sms_lines = (settings.NOTIFICATIONS_OUTBOX_DIR / "sms.jsonl").read_text().splitlines()
    assert len(sms_lines) == 1
    assert json.loads(sms_lines[0])["to"] == "+14155550123"
    types = list(
        MessageEvent.objects.filter(message__channel=Channel.EMAIL).values_list("type", flat=True)
    )
    assert types == ["queued", "sent"]

    with django_capture_on_commit_callbacks(execute=True):
        again = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id="evt-1",
            order_ref="1001",
        )
    assert again == []
    assert Message.objects.count() == 2
    assert len(mail.outbox) == 1


def test_tracking_link_carries_a_signed_token_for_the_merchant(
    merchant_a, shopper, notice, daytime
):
    notification_enqueue(
        merchant=merchant_a, trigger="shipped", recipient=shopper, context=notice, event_id="e2"
    )
    message = Message.objects.get(channel=Channel.EMAIL)
    prefix = "https://track.example/aurora/track/t/"
    assert message.link_url.startswith(prefix)
    token = message.link_url.removeprefix(prefix).rstrip("/")
    assert tracking_token_read(merchant_slug="aurora", token=token) == "pub-abc123"
    with pytest.raises(DomainError):
        tracking_token_read(merchant_slug="aurora-jp", token=token)
    assert message.link_url in message.body_text
    assert message.link_url in message.body_html


def test_toggle_turns_a_channel_off_for_one_merchant_only(
    merchant_a, merchant_b, shopper, notice, daytime
):
    TriggerToggle.objects.create(
        merchant=merchant_a, trigger="out_for_delivery", channel=Channel.SMS, enabled=False
    )
    a = notification_enqueue(
        merchant=merchant_a,
        trigger="out_for_delivery",
        recipient=shopper,
        context=notice,
        event_id="x",
    )
    b = notification_enqueue(
        merchant=merchant_b,
        trigger="out_for_delivery",
        recipient=shopper,
        context=notice,
        event_id="x",
    )
    assert [m.channel for m in a] == ["email"]
    assert sorted(m.channel for m in b) == ["email", "sms"]


def test_unknown_trigger_and_non_dataclass_context_are_refused(merchant_a, shopper, notice):
    with pytest.raises(DomainError) as unknown:
        notification_enqueue(
            merchant=merchant_a, trigger="nope", recipient=shopper, context=notice, event_id="e"
        )
    assert unknown.value.code == "unknown_trigger"
    with pytest.raises(DomainError) as not_plain:
        notification_enqueue(
            merchant=merchant_a,
            trigger="shipped",
            recipient=shopper,
            context={"order_number": "1"},
            event_id="e",
        )
    assert not_plain.value.code == "context_not_plain"


def test_unusable_addresses_are_recorded_as_suppressed_not_sent(
    merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    broken = type(shopper)(**{**shopper.__dict__, "email": "alice-at-example", "phone": "12"})
    with django_capture_on_commit_callbacks(execute=True):
        created = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=broken,
            context=notice,
            event_id="e-bad",
        )
    reasons = {m.channel: (m.status, m.status_reason) for m in created}
    assert reasons == {
        "email": (MessageStatus.SUPPRESSED, "invalid email address"),
        "sms": (MessageStatus.SUPPRESSED, "invalid phone number"),
    }
    assert mail.outbox == []


def _batch(shopper, notice, count: int, prefix: str):  # type: ignore[no-untyped-def]
    from notifications.services import NotificationRequest

    return [
        NotificationRequest(
            trigger="delivered",
            recipient=shopper,
            context=notice,
            event_id=f"{prefix}:{n}",
            order_ref=f"order-{n}",
            customer_ref=f"cust-{n}",
        )
        for n in range(count)
    ]


def test_a_batch_reads_push_subscriptions_once_by_customer_or_order(
    merchant_a, merchant_b, shopper, notice, daytime
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications.models import PushSubscription
    from notifications.services import notifications_enqueue_many

    for channel in (Channel.EMAIL, Channel.SMS):
        for merchant in (merchant_a, merchant_b):
            TriggerToggle.objects.create(
                merchant=merchant, trigger="delivered", channel=channel, enabled=False
            )

    def subscribe(merchant, endpoint, **refs):  # type: ignore[no-untyped-def]
        PushSubscription.objects.create(
            merchant=merchant,
            endpoint=f"https://push.example/{endpoint}",
            p256dh="k",
            auth="a",
            **refs,
        )

    subscribe(merchant_a, "by-customer", customer_ref="cust-0")
    subscribe(merchant_a, "by-order", order_ref="order-1")
    subscribe(merchant_a, "by-both", customer_ref="cust-2", order_ref="order-2")
    subscribe(merchant_a, "unrelated", customer_ref="someone-else")
    subscribe(merchant_b, "other-tenant", customer_ref="cust-0")  # never merchant_a's

    created = notifications_enqueue_many(
        merchant=merchant_a, requests=_batch(shopper, notice, 4, "push")
    )
    by_order = {m.order_ref: m.to_address for m in created}
    assert by_order == {
        "order-0": "https://push.example/by-customer",
        "order-1": "https://push.example/by-order",
        "order-2": "https://push.example/by-both",  # matched twice, one message
    }

    # Set-based: a batch of 40 runs as many queries as a batch of 2.
    with CaptureQueriesContext(connection) as small:
        notifications_enqueue_many(merchant=merchant_a, requests=_batch(shopper, notice, 2, "s"))
    with CaptureQueriesContext(connection) as large:
        notifications_enqueue_many(merchant=merchant_a, requests=_batch(shopper, notice, 40, "l"))
    assert len(large.captured_queries) == len(small.captured_queries)
