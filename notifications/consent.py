"""Consent and suppression: the ledger of who agreed to what, and who must not be messaged.

Every change is appended to `ConsentRecord` with its source and time; the newest record per
contact point and purpose decides. Transactional messages go out unless withdrawn; marketing
needs a grant. Bounces and complaints add a `Suppression`, which blocks every purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.models import (
    Channel,
    ConsentRecord,
    ConsentSource,
    InboundSms,
    InboundSmsKind,
    Message,
    MessageEvent,
    MessageEventType,
    Purpose,
    PushSubscription,
    Suppression,
)
from notifications.sms_keywords import KeywordKind, classify_sms
from postpurchase.models import Merchant

logger = logging.getLogger(__name__)


def normalise_address(channel: str, address: str, *, country: str = "US") -> str:
    """The canonical form of a contact point: lower-case email, E.164 phone, endpoint as is."""
    address = address.strip()
    if channel == Channel.EMAIL:
        return address.lower()
    if channel == Channel.SMS:
        prefix = "whatsapp:" if address.startswith("whatsapp:") else ""
        number = address.removeprefix("whatsapp:")
        try:
            parsed = phonenumbers.parse(number, country or None)
        except phonenumbers.NumberParseException:
            return ""
        if not phonenumbers.is_possible_number(parsed):
            return ""
        return prefix + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return address


def consent_record(
    *,
    merchant: Merchant,
    channel: str,
    address: str,
    purpose: str,
    granted: bool,
    source: str,
    detail: str = "",
    at: datetime | None = None,
) -> ConsentRecord:
    """Append one consent decision for a contact point and purpose."""
    return ConsentRecord.objects.create(
        merchant=merchant,
        channel=channel,
        address=normalise_address(channel, address, country=merchant.country),
        purpose=purpose,
        granted=granted,
        source=source,
        detail=detail[:300],
        recorded_at=at or timezone.now(),
    )


def contact_opt_out(
    *, merchant: Merchant, channel: str, address: str, source: str, detail: str = ""
) -> None:
    """Withdraw every purpose for a contact point (a STOP or a complaint means all of it)."""
    for purpose in Purpose.values:
        consent_record(
            merchant=merchant,
            channel=channel,
            address=address,
            purpose=purpose,
            granted=False,
            source=source,
            detail=detail,
        )


def contact_opt_in(
    *, merchant: Merchant, channel: str, address: str, source: str, detail: str = ""
) -> None:
    """Opt back in: transactional again, and marketing only if it had been granted before."""
    normalised = normalise_address(channel, address, country=merchant.country)
    consent_record(
        merchant=merchant,
        channel=channel,
        address=normalised,
        purpose=Purpose.TRANSACTIONAL,
        granted=True,
        source=source,
        detail=detail,
    )
    had_marketing = ConsentRecord.objects.for_merchant(merchant).filter(
        channel=channel, address=normalised, purpose=Purpose.MARKETING, granted=True
    )
    if had_marketing.exists():
        consent_record(
            merchant=merchant,
            channel=channel,
            address=normalised,
            purpose=Purpose.MARKETING,
            granted=True,
            source=source,
            detail=detail,
        )


def suppression_add(
    *, merchant: Merchant, channel: str, address: str, reason: str, detail: str = ""
) -> Suppression:
    """Block a contact point on every purpose (idempotent: the first reason is kept)."""
    normalised = normalise_address(channel, address, country=merchant.country)
    suppression, _ = Suppression.objects.get_or_create(
        merchant=merchant,
        channel=channel,
        address=normalised,
        defaults={"reason": reason, "detail": detail[:300]},
    )
    return suppression


# --- Inbound SMS (Twilio webhook) -------------------------------------------------------------


_KIND_BY_KEYWORD = {
    KeywordKind.OPT_OUT: InboundSmsKind.OPT_OUT,
    KeywordKind.OPT_IN: InboundSmsKind.OPT_IN,
    KeywordKind.REVIEW: InboundSmsKind.REVIEW,
    KeywordKind.OTHER: InboundSmsKind.OTHER,
}


@transaction.atomic
def inbound_sms_record(*, merchant: Merchant, payload: Mapping[str, Any]) -> InboundSms:
    """Store a verified inbound SMS once and act on its keyword; a repeat has no second effect."""
    sid = str(payload.get("MessageSid") or payload.get("SmsSid") or "").strip()
    sender = str(payload.get("From") or "").strip()
    body = str(payload.get("Body") or "")
    plain = {str(k): str(v) for k, v in payload.items()}
    if not sid or not sender:
        missing = "MessageSid" if not sid else "From"
        return InboundSms.objects.create(
            merchant=merchant,
            message_sid=sid or f"missing-{timezone.now().timestamp()}",
            from_number=sender,
            to_number=str(payload.get("To") or ""),
            body=body,
            payload=plain,
            kind=InboundSmsKind.FAILED,
            error=f"{missing} is missing: cannot tell which message or number this is.",
        )
    existing = InboundSms.objects.for_merchant(merchant).filter(message_sid=sid).first()
    if existing is not None:
        return existing
    kind = _KIND_BY_KEYWORD[classify_sms(body)]
    try:
        with transaction.atomic():
            inbound = InboundSms.objects.create(
                merchant=merchant,
                message_sid=sid,
                from_number=sender,
                to_number=str(payload.get("To") or ""),
                body=body,
                payload=plain,
                kind=kind,
            )
    except IntegrityError:  # the same SMS delivered twice at once: the other one acts
        return InboundSms.objects.for_merchant(merchant).get(message_sid=sid)
    detail = f"SMS {sid}: {body.strip()[:80]}"
    if kind == InboundSmsKind.OPT_OUT:
        contact_opt_out(
            merchant=merchant,
            channel=Channel.SMS,
            address=sender,
            source=ConsentSource.SMS_KEYWORD,
            detail=detail,
        )
    elif kind == InboundSmsKind.OPT_IN:
        contact_opt_in(
            merchant=merchant,
            channel=Channel.SMS,
            address=sender,
            source=ConsentSource.SMS_KEYWORD,
            detail=detail,
        )
    return inbound


# --- ESP tracking events (anymail) ------------------------------------------------------------

_ESP_EVENT_TYPES = {
    "delivered": MessageEventType.DELIVERED,
    "bounced": MessageEventType.BOUNCED,
    "rejected": MessageEventType.BOUNCED,
    "complained": MessageEventType.COMPLAINED,
    "opened": MessageEventType.OPENED,
    "clicked": MessageEventType.CLICKED,
    "unsubscribed": MessageEventType.UNSUBSCRIBED,
    "failed": MessageEventType.FAILED,
}
# A status only moves forward along this order; bounced and failed end it.
_PROGRESS = {"sent": 1, "delivered": 2, "opened": 3, "clicked": 4, "bounced": 5, "failed": 5}
_STATUS_BY_EVENT = {
    MessageEventType.DELIVERED: "delivered",
    MessageEventType.OPENED: "opened",
    MessageEventType.CLICKED: "clicked",
    MessageEventType.BOUNCED: "bounced",
    MessageEventType.FAILED: "failed",
}


def _message_for_esp_event(metadata: Mapping[str, Any], esp_message_id: str) -> Message | None:
    our_id = str(metadata.get("message_id") or "")
    if our_id.isdigit():
        found = Message.objects.filter(pk=int(our_id)).select_related("merchant").first()
        if found is not None:
            return found
    if esp_message_id:
        return (
            Message.objects.filter(provider_message_id=esp_message_id)
            .select_related("merchant")
            .first()
        )
    return None


@transaction.atomic
def esp_event_record(
    *,
    esp_name: str,
    event_type: str,
    event_id: str,
    esp_message_id: str,
    recipient: str,
    metadata: Mapping[str, Any],
    occurred_at: datetime | None,
    description: str = "",
) -> MessageEvent | None:
    """Record one ESP tracking event on its message; bounces and complaints suppress the address.

    Returns None when the event is not ours, of a type we don't track, or already recorded.
    """
    ledger_type = _ESP_EVENT_TYPES.get(event_type)
    if ledger_type is None:
        return None
    message = _message_for_esp_event(metadata, esp_message_id)
    if message is None:
        logger.warning("%s %s event for unknown message %s", esp_name, event_type, esp_message_id)
        return None
    merchant = message.merchant
    at = occurred_at or timezone.now()
    provider_event_id = event_id or f"{esp_name}:{esp_message_id}:{event_type}:{at.isoformat()}"
    try:
        with transaction.atomic():
            event = MessageEvent.objects.create(
                merchant=merchant,
                message=message,
                type=ledger_type,
                detail=f"{esp_name}: {description}"[:500],
                provider_event_id=f"{esp_name}:{provider_event_id}"[:200],
                occurred_at=at,
            )
    except IntegrityError:  # the ESP retried the webhook: no second effect
        return None
    address = recipient or message.to_address
    if ledger_type == MessageEventType.BOUNCED:
        suppression_add(
            merchant=merchant,
            channel=Channel.EMAIL,
            address=address,
            reason="bounce",
            detail=description,
        )
    elif ledger_type in (MessageEventType.COMPLAINED, MessageEventType.UNSUBSCRIBED):
        source = (
            ConsentSource.ESP_COMPLAINT
            if ledger_type == MessageEventType.COMPLAINED
            else ConsentSource.UNSUBSCRIBE_LINK
        )
        contact_opt_out(
            merchant=merchant,
            channel=Channel.EMAIL,
            address=address,
            source=source,
            detail=f"{esp_name} {event_type}",
        )
        if ledger_type == MessageEventType.COMPLAINED:
            suppression_add(
                merchant=merchant, channel=Channel.EMAIL, address=address, reason="complaint"
            )
    new_status = _STATUS_BY_EVENT.get(MessageEventType(ledger_type))
    if new_status:
        # Conditional update: concurrent events for one message only ever move it forward.
        behind = [status for status, rank in _PROGRESS.items() if rank < _PROGRESS[new_status]]
        Message.objects.filter(pk=message.pk, status__in=behind).update(
            status=new_status, updated_at=timezone.now()
        )
    return event


_TWILIO_STATUS_EVENTS = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}


def sms_status_record(*, merchant: Merchant, payload: Mapping[str, Any]) -> MessageEvent | None:
    """Record a Twilio status callback (delivered, undelivered, failed) on a merchant's message."""
    sid = str(payload.get("MessageSid") or "")
    status = str(payload.get("MessageStatus") or "").lower()
    event_type = _TWILIO_STATUS_EVENTS.get(status)
    message = Message.objects.for_merchant(merchant).filter(provider_message_id=sid).first()
    if not sid or event_type is None or message is None:
        return None
    error_code = str(payload.get("ErrorCode") or "")
    if error_code == "21610":
        contact_opt_out(
            merchant=merchant,
            channel=Channel.SMS,
            address=message.to_address,
            source=ConsentSource.PROVIDER_OPT_OUT,
            detail=f"Twilio {error_code} on {sid}",
        )
    return esp_event_record(
        esp_name="twilio",
        event_type=event_type,
        event_id=f"{sid}:{status}",
        esp_message_id=sid,
        recipient="",
        metadata={"message_id": str(message.pk)},
        occurred_at=None,
        description=f"{status} {error_code}".strip(),
    )


# --- Unsubscribe links and push subscriptions -------------------------------------------------


@transaction.atomic
def unsubscribe_apply(
    *, merchant: Merchant, channel: str, address: str, purpose: str, message_key: str
) -> bool:
    """Withdraw consent from a signed unsubscribe link; False when already withdrawn (no-op)."""
    normalised = normalise_address(channel, address, country=merchant.country)
    latest = (
        ConsentRecord.objects.for_merchant(merchant)
        .filter(channel=channel, address=normalised, purpose=purpose)
        .order_by("-recorded_at", "-id")
        .first()
    )
    if latest is not None and not latest.granted:
        return False
    consent_record(
        merchant=merchant,
        channel=channel,
        address=normalised,
        purpose=purpose,
        granted=False,
        source=ConsentSource.UNSUBSCRIBE_LINK,
        detail="one-click unsubscribe",
    )
    message = Message.objects.for_merchant(merchant).filter(idempotency_key=message_key).first()
    if message is not None:
        MessageEvent.objects.create(
            merchant=merchant,
            message=message,
            type=MessageEventType.UNSUBSCRIBED,
            detail=f"{purpose} via link",
            occurred_at=timezone.now(),
        )
    return True


def push_subscription_save(
    *,
    merchant: Merchant,
    endpoint: str,
    p256dh: str,
    auth: str,
    order_ref: str,
    customer_ref: str,
    language: str = "",
    user_agent: str = "",
) -> PushSubscription:
    """Store (or refresh) a browser's push subscription and record the consent it expresses."""
    from notifications.errors import NotificationErrorCode
    from postpurchase.errors import DomainError

    if not endpoint.startswith("https://"):
        raise DomainError(
            NotificationErrorCode.INVALID_SUBSCRIPTION,
            "The subscription endpoint must be an https:// URL.",
            field="endpoint",
        )
    if not p256dh or not auth:
        raise DomainError(
            NotificationErrorCode.INVALID_SUBSCRIPTION,
            "The subscription needs its p256dh and auth keys.",
            field="keys",
        )
    with transaction.atomic():
        subscription, _ = PushSubscription.objects.update_or_create(
            merchant=merchant,
            endpoint=endpoint[:1000],
            defaults={
                "p256dh": p256dh[:200],
                "auth": auth[:100],
                "order_ref": order_ref[:100],
                "customer_ref": customer_ref[:100],
                "language": language[:8],
                "user_agent": user_agent[:300],
            },
        )
        consent_record(
            merchant=merchant,
            channel=Channel.PUSH,
            address=endpoint,
            purpose=Purpose.TRANSACTIONAL,
            granted=True,
            source=ConsentSource.PUSH_PROMPT,
            detail=f"order {order_ref}" if order_ref else "",
        )
    return subscription
