"""Channel registry: a name maps to the class that sends it (settings.NOTIFICATIONS_CHANNELS).

Each channel module holds one class with `send(message) -> SendResult`; `send_many` is optional
(email reuses one connection for a batch). Adding a channel is adding one module and a setting.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from notifications.domain import OutgoingMessage, SendResult
from notifications.errors import NotificationErrorCode
from postpurchase.errors import DomainError


class NotificationChannel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...


_instances: dict[str, NotificationChannel] = {}


def channel_for(name: str) -> NotificationChannel:
    """The configured sender of channel `name` (one instance per process)."""
    instance = _instances.get(name)
    if instance is None:
        path = settings.NOTIFICATIONS_CHANNELS.get(name)
        if not path:
            raise DomainError(NotificationErrorCode.UNKNOWN_CHANNEL, f"No channel named {name!r}.")
        instance = import_string(path)(name=name)
        _instances[name] = instance
    return instance


def send_many(
    channel: NotificationChannel, messages: list[OutgoingMessage]
) -> list[SendResult | Exception]:
    """Send a batch through one channel; each slot holds its result or the error it raised."""
    batch = getattr(channel, "send_many", None)
    if batch is not None:
        results: list[SendResult | Exception] = batch(messages)
        return results
    out: list[SendResult | Exception] = []
    for message in messages:
        try:
            out.append(channel.send(message))
        except Exception as exc:  # each message's own outcome; classified by the caller
            out.append(exc)
    return out


@receiver(setting_changed)
def _reset_channels(*, setting: str, **kwargs: object) -> None:
    if setting in {
        "NOTIFICATIONS_CHANNELS",
        "NOTIFICATIONS_EMAIL_CONNECTIONS",
    } or setting.startswith(("EMAIL_", "TWILIO_", "VAPID_")):
        channels_reset()


def channels_reset() -> None:
    """Drop the channel instances, closing what they keep open (idle SMTP sessions)."""
    instances = list(_instances.values())
    _instances.clear()
    for instance in instances:
        close = getattr(instance, "close", None)
        if close is not None:
            close()
