"""Reads of the messaging engine, always scoped to one merchant."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from notifications.models import (
    Channel,
    ConsentRecord,
    Message,
    MessageEvent,
    MessagingSettings,
    Purpose,
    PushSubscription,
    Suppression,
    TemplateOverride,
    TriggerToggle,
)
from notifications.triggers import TriggerSpec
from postpurchase.models import Merchant


def messaging_settings_for(*, merchant: Merchant) -> MessagingSettings:
    """The merchant's sending rules; the defaults (unsaved) when none were set."""
    found = MessagingSettings.objects.for_merchant(merchant).first()
    return found if found is not None else MessagingSettings(merchant=merchant)


def trigger_toggles(*, merchant: Merchant) -> dict[tuple[str, str], bool]:
    rows = TriggerToggle.objects.for_merchant(merchant).values_list("trigger", "channel", "enabled")
    return {(trigger, channel): enabled for trigger, channel, enabled in rows}


def channels_enabled(spec: TriggerSpec, toggles: dict[tuple[str, str], bool]) -> list[str]:
    """The channels a trigger sends on for a merchant: a toggle wins over the trigger's default."""
    return [
        channel
        for channel in Channel.values
        if toggles.get((spec.key, channel), channel in spec.default_channels)
    ]


def template_override_for(
    *, merchant: Merchant, trigger: str, channel: str, language: str
) -> TemplateOverride | None:
    return (
        TemplateOverride.objects.for_merchant(merchant)
        .filter(trigger=trigger, channel=channel, language=language, is_active=True)
        .first()
    )


def push_subscriptions_for_many(
    *, merchant: Merchant, customer_refs: Iterable[str], order_refs: Iterable[str]
) -> list[PushSubscription]:
    """Browsers subscribed for any of these customers or orders (one query for a batch)."""
    from django.db.models import Q

    customers = sorted({ref for ref in customer_refs if ref})
    orders = sorted({ref for ref in order_refs if ref})
    if not customers and not orders:
        return []
    return list(
        PushSubscription.objects.for_merchant(merchant)
        .filter(Q(customer_ref__in=customers) | Q(order_ref__in=orders))
        .order_by("pk")
    )


def suppressed_addresses(
    *, merchant: Merchant, channel: str, addresses: Iterable[str]
) -> dict[str, str]:
    """Address -> suppression reason for the given contact points."""
    rows = (
        Suppression.objects.for_merchant(merchant)
        .filter(channel=channel, address__in=list(addresses))
        .values_list("address", "reason")
    )
    return dict(rows)


def consent_states(
    *, merchant: Merchant, channel: str, addresses: Iterable[str]
) -> dict[tuple[str, str], ConsentRecord]:
    """The newest consent record per (address, purpose) for the given contact points."""
    latest: dict[tuple[str, str], ConsentRecord] = {}
    rows = (
        ConsentRecord.objects.for_merchant(merchant)
        .filter(channel=channel, address__in=list(addresses))
        .order_by("recorded_at", "id")
    )
    for record in rows:
        latest[(record.address, record.purpose)] = record
    return latest


def consent_ledger(*, merchant: Merchant, channel: str, address: str) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.for_merchant(merchant).filter(channel=channel, address=address)


def messages_for_order(*, merchant: Merchant, order_ref: str) -> QuerySet[Message]:
    return (
        Message.objects.for_merchant(merchant).filter(order_ref=order_ref).order_by("-created_at")
    )


def messages_for_customer(*, merchant: Merchant, customer_ref: str) -> QuerySet[Message]:
    return (
        Message.objects.for_merchant(merchant)
        .filter(customer_ref=customer_ref)
        .order_by("-created_at")
    )


def message_events(*, merchant: Merchant, message: Message) -> QuerySet[MessageEvent]:
    return (
        MessageEvent.objects.for_merchant(merchant).filter(message=message).order_by("occurred_at")
    )


def marketing_purpose(purpose: str) -> bool:
    return purpose == Purpose.MARKETING
