"""Quiet hours in the recipient's zone: held in the due-send table, released when they end."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

import pytest
import time_machine
from django.core import mail

from notifications.models import (
    Channel,
    DueSend,
    Message,
    MessageStatus,
    MessagingSettings,
    TriggerToggle,
)
from notifications.quiet_hours import quiet_until
from notifications.sending import due_sends_release
from notifications.services import notification_enqueue

START, END = time(21, 0), time(8, 0)


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # 22:30 in New York (EST): held until 08:00 the next local day, 13:00 UTC.
        (
            datetime(2026, 11, 25, 3, 30, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 11, 25, 13, 0, tzinfo=UTC),
        ),
        # Same instant is 12:30 in Tokyo: not quiet there.
        (datetime(2026, 11, 25, 3, 30, tzinfo=UTC), "Asia/Tokyo", None),
        # 02:00 in Tokyo: after midnight, released at 08:00 the same local day (23:00 UTC before).
        (
            datetime(2026, 11, 24, 17, 0, tzinfo=UTC),
            "Asia/Tokyo",
            datetime(2026, 11, 24, 23, 0, tzinfo=UTC),
        ),
        # Exactly 21:00 local is quiet; 08:00 local is not.
        (
            datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 11, 25, 13, 0, tzinfo=UTC),
        ),
        (datetime(2026, 11, 25, 13, 0, tzinfo=UTC), "America/New_York", None),
        # The night clocks go back (1 Nov 2026, New York): 08:00 EST is 13:00 UTC, not 12:00.
        (
            datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 11, 1, 13, 0, tzinfo=UTC),
        ),
        # Year boundary in Tokyo.
        (
            datetime(2026, 12, 31, 14, 30, tzinfo=UTC),
            "Asia/Tokyo",
            datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
        ),
    ],
)
def test_quiet_until_in_the_recipients_zone(now, zone, expected):
    assert quiet_until(now=now, zone=zone, start=START, end=END) == expected


def test_a_daytime_window_does_not_wrap():
    lunch = (time(12, 0), time(13, 0))
    noon_thirty = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)  # 12:30 Tokyo
    assert quiet_until(
        now=noon_thirty, zone="Asia/Tokyo", start=lunch[0], end=lunch[1]
    ) == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    assert quiet_until(now=noon_thirty, zone="UTC", start=lunch[0], end=lunch[1]) is None


@pytest.fixture
def email_only(merchant_a):  # type: ignore[no-untyped-def]
    TriggerToggle.objects.create(
        merchant=merchant_a, trigger="out_for_delivery", channel=Channel.SMS, enabled=False
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("email_only")
def test_message_due_at_night_is_held_then_released_in_the_morning(
    merchant_a, shopper, notice, django_capture_on_commit_callbacks
):
    late_evening_ny = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)  # 22:30 the day before in NY
    with (
        time_machine.travel(late_evening_ny, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        (message,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id="e1",
        )
    assert message.status == MessageStatus.HELD
    assert DueSend.objects.get(message=message).due_at == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    assert mail.outbox == []

    with (
        time_machine.travel(datetime(2026, 11, 25, 12, 59, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert due_sends_release() == []
    assert mail.outbox == []

    with (
        time_machine.travel(datetime(2026, 11, 25, 13, 0, 5, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert due_sends_release() == [message.pk]
        assert due_sends_release() == []  # claimed once
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(mail.outbox) == 1
    assert not DueSend.objects.exists()
    assert list(message.events.values_list("type", flat=True)) == ["held", "released", "sent"]


@pytest.mark.django_db
@pytest.mark.usefixtures("email_only")
def test_destination_zone_wins_over_customer_and_merchant(
    merchant_a, shopper, notice, django_capture_on_commit_callbacks
):
    # 02:00 in Tokyo, 12:00 in New York. The parcel goes to Tokyo: quiet.
    at = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    to_tokyo = replace(notice, destination_time_zone="Asia/Tokyo")
    no_destination = replace(notice, destination_time_zone="")
    nowhere = replace(shopper, time_zone="")
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        (tokyo,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=to_tokyo,
            event_id="a",
        )
        (customer_zone,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=no_destination,
            event_id="b",
        )
        (merchant_zone,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=nowhere,
            context=no_destination,
            event_id="c",
        )
    assert (tokyo.time_zone, tokyo.status) == ("Asia/Tokyo", MessageStatus.HELD)
    assert (customer_zone.time_zone, customer_zone.status) == (
        "America/New_York",
        MessageStatus.QUEUED,
    )
    assert merchant_zone.time_zone == merchant_a.time_zone == "America/New_York"
    assert Message.objects.get(pk=customer_zone.pk).status == MessageStatus.SENT


@pytest.mark.django_db
@pytest.mark.usefixtures("email_only")
def test_quiet_hours_can_be_limited_to_sms_and_push(
    merchant_a, shopper, notice, django_capture_on_commit_callbacks
):
    MessagingSettings.objects.create(merchant=merchant_a, quiet_hours_channels=["sms", "push"])
    with (
        time_machine.travel(datetime(2026, 11, 25, 3, 30, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        (message,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id="e1",
        )
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SENT
