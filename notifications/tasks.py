"""Notification tasks: thin, idempotent (a message is claimed before it is sent)."""

from __future__ import annotations

from notifications import sending
from postpurchase.tasking import platform_task


@platform_task(
    name="notifications.messages_send", max_retries=0, time_limit=120, soft_time_limit=100
)
def messages_send(message_ids: list[int]) -> int:
    """Send the queued messages among `message_ids` (retries go through the due-send table)."""
    return sending.messages_send(message_ids=message_ids).sent


@platform_task(name="notifications.due_sends_release", max_retries=0)
def due_sends_release() -> int:
    return len(sending.due_sends_release())


@platform_task(name="notifications.messages_sweep_stuck", max_retries=0)
def messages_sweep_stuck() -> int:
    queued, stuck = sending.messages_sweep_stuck()
    return queued + stuck
