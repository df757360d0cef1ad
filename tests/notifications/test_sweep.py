"""The stuck sweep: unpicked queued messages are re-dispatched; a dead send is not resent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications.models import Channel, Message, MessageStatus, TriggerToggle
from notifications.sending import messages_sweep_stuck
from notifications.services import notification_enqueue

pytestmark = pytest.mark.django_db


def test_sweep_redispatches_lost_queued_messages_and_fails_dead_sends(
    merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    TriggerToggle.objects.create(
        merchant=merchant_a, trigger="out_for_delivery", channel=Channel.SMS, enabled=False
    )
    # The broker was down at commit: the send task never ran.
    with django_capture_on_commit_callbacks(execute=False):
        (lost,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id="lost",
        )
        (dead,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id="dead",
        )
    long_ago = timezone.now() - timedelta(minutes=30)
    Message.objects.filter(pk=lost.pk).update(updated_at=long_ago)
    # A worker claimed this one and died before recording the outcome.
    Message.objects.filter(pk=dead.pk).update(status=MessageStatus.SENDING, updated_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert messages_sweep_stuck() == (1, 1)
    lost.refresh_from_db()
    dead.refresh_from_db()
    assert lost.status == MessageStatus.SENT
    assert dead.status == MessageStatus.FAILED
    assert "not resent" in dead.status_reason
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_sweep_stuck() == (0, 0)
