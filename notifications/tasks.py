"""Notification tasks: thin, idempotent (a message is claimed before it is sent)."""

from __future__ import annotations

from django.conf import settings

from notifications import send_loop, sending
from postpurchase.tasking import platform_task


@platform_task(
    name="notifications.messages_send", max_retries=0, time_limit=120, soft_time_limit=100
)
def messages_send(message_ids: list[int]) -> int:
    """Send the queued messages among `message_ids`, then other queued ones for up to
    NOTIFICATIONS_SEND_LOOP_SECONDS (retries go through the due-send table)."""
    return send_loop.messages_send_loop(
        message_ids=message_ids, seconds=settings.NOTIFICATIONS_SEND_LOOP_SECONDS
    ).sent


@platform_task(name="notifications.due_sends_release", max_retries=0)
def due_sends_release() -> int:
    return len(sending.due_sends_release())


@platform_task(name="notifications.messages_sweep_stuck", max_retries=0)
def messages_sweep_stuck() -> int:
    queued, stuck = sending.messages_sweep_stuck()
    return queued + stuck
