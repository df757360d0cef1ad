"""Marketing needs consent and is capped per customer per local day; transactional is not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from notifications.consent import consent_record
from notifications.models import (
    Channel,
    MessageStatus,
    MessagingSettings,
    Purpose,
    TemplateOverride,
)
from notifications.services import notification_enqueue
from notifications.triggers import TriggerSpec, _registry, trigger_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def cross_sell(merchant_a):  # type: ignore[no-untyped-def]
    trigger_register(
        TriggerSpec(
            "test_cross_sell",
            "Cross-sell",
            purpose=Purpose.MARKETING,
            default_channels=frozenset({Channel.EMAIL}),
        )
    )
    TemplateOverride.objects.create(
        merchant=merchant_a,
        trigger="test_cross_sell",
        channel=Channel.EMAIL,
        language="en",
        subject="{{ shopper.first_name }}, socks go with {{ product }}",
        body_text="Offer for {{ order_number }}",
    )
    yield "test_cross_sell"
    _registry.pop("test_cross_sell", None)


def _send(merchant, shopper, notice, trigger, event_id, capture):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return notification_enqueue(
            merchant=merchant, trigger=trigger, recipient=shopper, context=notice, event_id=event_id
        )


def test_marketing_needs_a_grant(
    merchant_a, shopper, notice, cross_sell, daytime, django_capture_on_commit_callbacks
):
    (message,) = _send(
        merchant_a, shopper, notice, cross_sell, "m1", django_capture_on_commit_callbacks
    )
    assert message.status == MessageStatus.SUPPRESSED
    assert message.status_reason == "no marketing consent for this contact point"


def test_marketing_is_capped_per_customer_per_local_day(
    merchant_a, shopper, notice, cross_sell, django_capture_on_commit_callbacks
):
    MessagingSettings.objects.create(merchant=merchant_a, marketing_daily_cap=1)
    consent_record(
        merchant=merchant_a,
        channel=Channel.EMAIL,
        address=shopper.email,
        purpose=Purpose.MARKETING,
        granted=True,
        source="checkout",
    )
    # 10:00 and 15:59 on 24 Nov in New York, then 01:00 UTC on the 25th: 20:00 on the 24th there.
    times = [
        datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 20, 59, tzinfo=UTC),
        datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
    ]
    statuses = []
    for index, at in enumerate(times):
        with time_machine.travel(at, tick=False):
            (message,) = _send(
                merchant_a,
                shopper,
                notice,
                cross_sell,
                f"m{index}",
                django_capture_on_commit_callbacks,
            )
        statuses.append((message.status, message.status_reason))
    assert statuses[0][0] == MessageStatus.QUEUED
    assert statuses[1] == (
        MessageStatus.SUPPRESSED,
        "frequency cap: marketing limit for today reached",
    )
    assert statuses[2][0] == MessageStatus.SUPPRESSED  # 20:00 local: still the same day
    # The next local day (09:00 in New York on the 25th) the cap starts again, whatever UTC says.
    with time_machine.travel(datetime(2026, 11, 25, 14, 0, tzinfo=UTC), tick=False):
        (next_day,) = _send(
            merchant_a, shopper, notice, cross_sell, "m-next", django_capture_on_commit_callbacks
        )
    assert next_day.status == MessageStatus.QUEUED


def test_transactional_messages_are_not_capped(
    merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    MessagingSettings.objects.create(merchant=merchant_a, marketing_daily_cap=0)
    statuses = [
        m.status
        for index in range(5)
        for m in _send(
            merchant_a,
            shopper,
            notice,
            "out_for_delivery",
            f"t{index}",
            django_capture_on_commit_callbacks,
        )
    ]
    assert statuses.count(MessageStatus.SUPPRESSED) == 0
    assert len(statuses) == 10  # email and SMS each time
