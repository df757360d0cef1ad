"""The triggers the engine knows: what each is for, its purpose and the channels on by default.

Apps may add their own (`trigger_register`) at start-up, e.g. remarketing's marketing triggers;
each needs default templates (files) or a merchant override to render.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from notifications.models import Channel, Purpose


class Trigger(StrEnum):
    ORDER_CONFIRMED = "order_confirmed"
    SHIPPED = "shipped"
    ARRIVING_TOMORROW = "arriving_tomorrow"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELAYED = "delayed"
    STALLED = "stalled"
    ATTEMPT_FAILED = "attempt_failed"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    EXCEPTION = "exception"
    DELIVERED = "delivered"


@dataclass(frozen=True)
class TriggerSpec:
    key: str
    label: str | Promise
    purpose: Purpose = Purpose.TRANSACTIONAL
    default_channels: frozenset[str] = frozenset({Channel.EMAIL})


_ALL = frozenset({Channel.EMAIL, Channel.SMS, Channel.PUSH})
_EMAIL_PUSH = frozenset({Channel.EMAIL, Channel.PUSH})

_registry: dict[str, TriggerSpec] = {}


def trigger_register(spec: TriggerSpec) -> None:
    """Make a trigger known to the engine (idempotent; the last registration wins)."""
    _registry[spec.key] = spec


def trigger_get(key: str) -> TriggerSpec | None:
    return _registry.get(key)


def triggers_all() -> list[TriggerSpec]:
    return list(_registry.values())


for _spec in (
    TriggerSpec(Trigger.ORDER_CONFIRMED, _("Order confirmed")),
    TriggerSpec(Trigger.SHIPPED, _("Shipped"), default_channels=_EMAIL_PUSH),
    TriggerSpec(Trigger.ARRIVING_TOMORROW, _("Arriving tomorrow"), default_channels=_EMAIL_PUSH),
    TriggerSpec(Trigger.OUT_FOR_DELIVERY, _("Out for delivery"), default_channels=_ALL),
    TriggerSpec(Trigger.DELAYED, _("Delayed"), default_channels=_ALL),
    TriggerSpec(Trigger.STALLED, _("No movement for a while")),
    TriggerSpec(Trigger.ATTEMPT_FAILED, _("Delivery attempt failed"), default_channels=_ALL),
    TriggerSpec(Trigger.AVAILABLE_FOR_PICKUP, _("Ready for pickup"), default_channels=_ALL),
    TriggerSpec(Trigger.EXCEPTION, _("Delivery problem"), default_channels=_ALL),
    TriggerSpec(Trigger.DELIVERED, _("Delivered"), default_channels=_EMAIL_PUSH),
):
    trigger_register(_spec)
