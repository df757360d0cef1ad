"""Template previews with sample data, and "send a test to me" from the console."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from notifications import selectors
from notifications.channels import channel_for, send_many
from notifications.domain import ItemLine, Recipient, SendResult, ShipmentNotice
from notifications.errors import NotificationErrorCode
from notifications.models import Channel, Message, MessageEvent, MessageEventType, MessageStatus
from notifications.rendering import (
    LANGUAGES_WITH_DEFAULTS,
    RenderedMessage,
    TemplateSource,
    plain_data,
    render_message,
    template_validate,
)
from notifications.sending import outgoing_for
from notifications.services import NotificationRequest, RenderBatch, branding_of, template_data
from notifications.triggers import trigger_get
from postpurchase.errors import DomainError
from postpurchase.models import Merchant

SAMPLE_NAMES = {"en": ("Alice Ng", "Alice"), "ja": ("山田 花子", "花子")}
SAMPLE_ITEMS = {
    "en": (ItemLine("Merino crew sock", 2), ItemLine("Canvas tote", 1)),
    "ja": (ItemLine("メリノウール ソックス", 2), ItemLine("キャンバス トート", 1)),
}


def sample_context(*, today: date | None = None) -> ShipmentNotice:
    """A plausible shipment for previews: every field a default template uses is filled."""
    today = today or timezone.localdate()
    return ShipmentNotice(
        order_number="1001",
        items=SAMPLE_ITEMS["en"],
        carrier="ups",
        tracking_number="1Z999AA10123456784",
        tracking_ref="sample",
        status="in_transit",
        reason="consignee.address_incorrect",
        action_required=True,
        estimate_start=today + timedelta(days=3),
        estimate_end=today + timedelta(days=4),
        previous_estimate_start=today + timedelta(days=1),
        previous_estimate_end=today + timedelta(days=2),
        pickup_location="Main St Parcel Shop, 12 Main St",
        destination_city="Springfield",
        occurred_at=datetime.now(tz=timezone.get_current_timezone()),
    )


def _sample_request(trigger: str, language: str) -> NotificationRequest:
    name, first = SAMPLE_NAMES.get(language, SAMPLE_NAMES["en"])
    context = sample_context()
    context = ShipmentNotice(
        **{**context.__dict__, "items": SAMPLE_ITEMS.get(language, SAMPLE_ITEMS["en"])}
    )
    return NotificationRequest(
        trigger=trigger,
        recipient=Recipient(name=name, first_name=first, language=language),
        context=context,
        event_id=f"preview:{uuid.uuid4()}",
    )


def template_preview(
    *,
    merchant: Merchant,
    trigger: str,
    channel: str,
    language: str,
    override: TemplateSource | None = None,
) -> RenderedMessage:
    """Render one trigger for one channel and language with sample data (override or default)."""
    if trigger_get(trigger) is None:
        raise DomainError(NotificationErrorCode.UNKNOWN_TRIGGER, f"No trigger named {trigger!r}.")
    if override is not None:
        template_validate(override.subject, field="subject")
        template_validate(override.body_text, field="body_text")
        template_validate(override.body_html, field="body_html")
    elif language not in LANGUAGES_WITH_DEFAULTS:
        language = "en"
    batch = RenderBatch(
        merchant=merchant,
        rules=selectors.messaging_settings_for(merchant=merchant),
        toggles={},
        now=timezone.now(),
    )
    batch.branding = branding_of(merchant)
    request = _sample_request(trigger, language)
    base = plain_data(request.context, language=language, zone=merchant.time_zone)
    data = template_data(batch, request, base, language)
    data["unsubscribe_url"] = "#unsubscribe-preview"
    return render_message(
        trigger=trigger, channel=channel, language=language, data=data, override=override
    )


def message_send_test(
    *,
    merchant: Merchant,
    trigger: str,
    channel: str,
    language: str,
    to_address: str,
    override: TemplateSource | None = None,
) -> Message:
    """Send a preview to a staff member now (no consent, quiet hours or cap: it is for them)."""
    if not to_address:
        raise DomainError(
            NotificationErrorCode.NO_TEST_RECIPIENT,
            "Set your email address (or a test phone number in the messaging settings) first.",
            field="to_address",
        )
    rendered = template_preview(
        merchant=merchant, trigger=trigger, channel=channel, language=language, override=override
    )
    spec = trigger_get(trigger)
    assert spec is not None  # checked by template_preview
    with transaction.atomic():
        message = Message.objects.create(
            merchant=merchant,
            idempotency_key=uuid.uuid4().hex,
            enqueue_token=uuid.uuid4().hex,
            event_id="test",
            trigger=trigger,
            channel=channel,
            purpose=spec.purpose,
            language=language,
            to_address=to_address,
            time_zone=merchant.time_zone,
            subject=f"[TEST] {rendered.subject}" if channel == Channel.EMAIL else rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            status=MessageStatus.SENDING,
            is_test=True,
            attempts=1,
        )
    result = send_many(channel_for(channel), [outgoing_for(message)])[0]
    now = timezone.now()
    if isinstance(result, SendResult):
        message.status = MessageStatus.SENT
        message.provider = result.provider
        message.provider_message_id = result.provider_message_id[:200]
        message.sent_at = now
        kind, detail = MessageEventType.SENT, "test send"
    else:
        message.status = MessageStatus.FAILED
        message.status_reason = f"{type(result).__name__}: {result}"[:300]
        kind, detail = MessageEventType.FAILED, message.status_reason
    message.save(
        update_fields=[
            "status",
            "status_reason",
            "provider",
            "provider_message_id",
            "sent_at",
            "updated_at",
        ]
    )
    MessageEvent.objects.create(
        merchant=merchant, message=message, type=kind, detail=detail, occurred_at=now
    )
    return message
