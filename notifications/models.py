"""Messaging tables: settings and templates per merchant, consent, the message ledger, due sends.

Nothing here points at another domain app: orders and customers are opaque `order_ref` /
`customer_ref` strings handed over by the app that asked for the message.
"""

from __future__ import annotations

from datetime import time

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models import TenantModel


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PUSH = "push", _("Web push")


class Purpose(models.TextChoices):
    TRANSACTIONAL = "transactional", _("Transactional")
    MARKETING = "marketing", _("Marketing")


class MessagingSettings(TenantModel):
    """One merchant's sending rules: quiet hours and the marketing frequency cap."""

    quiet_hours_enabled = models.BooleanField(default=True)
    quiet_hours_start = models.TimeField(
        default=time(21, 0),
        help_text=_("Local time in the recipient's zone when quiet hours begin."),
    )
    quiet_hours_end = models.TimeField(
        default=time(8, 0), help_text=_("Local time when held messages are released.")
    )
    quiet_hours_channels = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Channels that respect quiet hours; empty means every channel."),
    )
    marketing_daily_cap = models.PositiveSmallIntegerField(
        default=1, help_text=_("Marketing messages per customer per day (transactional: no cap).")
    )
    test_recipient_email = models.EmailField(blank=True)
    test_recipient_phone = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("messaging settings")
        verbose_name_plural = _("messaging settings")
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="messaging_settings_one_per_merchant")
        ]

    def __str__(self) -> str:
        return f"Messaging settings of {self.merchant}"


class TriggerToggle(TenantModel):
    """Whether one trigger sends on one channel for a merchant (absent: the trigger's default)."""

    trigger = models.CharField(max_length=60)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["trigger", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "trigger", "channel"], name="trigger_toggle_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.trigger}/{self.channel}: {'on' if self.enabled else 'off'}"


class TemplateOverride(TenantModel):
    """A merchant's own wording of one trigger on one channel in one language."""

    trigger = models.CharField(max_length=60)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=8)
    subject = models.CharField(
        max_length=300, blank=True, help_text=_("Email subject, or the push title.")
    )
    body_text = models.TextField(help_text=_("Plain text: the SMS, the push body, the email text."))
    body_html = models.TextField(
        blank=True, help_text=_("Email only: the HTML inside the branded layout.")
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["trigger", "channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "trigger", "channel", "language"],
                name="template_override_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.trigger}/{self.channel}/{self.language}"


class ConsentSource(models.TextChoices):
    CHECKOUT = "checkout", _("Checkout or store sign-up")
    API = "api", _("API")
    CONSOLE = "console", _("Console (staff)")
    UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
    SMS_KEYWORD = "sms_keyword", _("SMS keyword")
    PROVIDER_OPT_OUT = "provider_opt_out", _("Provider says opted out")
    ESP_COMPLAINT = "esp_complaint", _("Spam complaint")
    ESP_BOUNCE = "esp_bounce", _("Hard bounce")
    ESP_ENGAGEMENT = "esp_engagement", _("Delivery or engagement")
    PUSH_PROMPT = "push_prompt", _("Browser push prompt")


class ConsentRecord(TenantModel):
    """An entry of the append-only consent ledger; the newest per contact point and purpose wins.

    Never updated or deleted: the history is the evidence.
    """

    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=500, help_text=_("Normalised email, E.164 or endpoint."))
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    detail = models.CharField(max_length=300, blank=True)
    recorded_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["merchant", "channel", "address", "purpose", "-recorded_at"],
                name="consent_latest_idx",
            )
        ]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrawn"
        return f"{self.channel} {self.address} {self.purpose} {verb}"


class Suppression(TenantModel):
    """A contact point that must not be sent to (bounce, complaint); lifted by staff only."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=500)
    reason = models.CharField(max_length=40)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "channel", "address"], name="suppression_unique_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.address} ({self.reason})"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    HELD = "held", _("Held (quiet hours or retry wait)")
    SUPPRESSED = "suppressed", _("Suppressed")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    BOUNCED = "bounced", _("Bounced")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")
    FAILED = "failed", _("Failed")


class Message(TenantModel):
    """One message to one contact point on one channel, and where it is in its life."""

    idempotency_key = models.CharField(max_length=64, editable=False)
    # Which enqueue call inserted the row: tells a call its own rows after an insert that
    # skipped duplicates (ON CONFLICT DO NOTHING returns no ids).
    enqueue_token = models.CharField(max_length=32, editable=False)
    event_id = models.CharField(max_length=100)
    trigger = models.CharField(max_length=60)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    language = models.CharField(max_length=8)
    to_address = models.CharField(max_length=500)
    recipient_name = models.CharField(max_length=200, blank=True)
    time_zone = models.CharField(max_length=64)
    order_ref = models.CharField(max_length=100, blank=True, db_index=True)
    customer_ref = models.CharField(max_length=100, blank=True, db_index=True)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    link_url = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    status_reason = models.CharField(max_length=300, blank=True)
    is_test = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider = models.CharField(max_length=40, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"], name="message_idempotency_unique"
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "status"], name="message_status_idx"),
            # The send loop's "oldest queued messages" (notifications/send_loop.py): queued rows
            # are few and short-lived, so the index stays small.
            models.Index(
                fields=["id"],
                condition=models.Q(status="queued", is_test=False),
                name="message_queued_idx",
            ),
            models.Index(
                fields=["merchant", "customer_ref", "purpose", "created_at"],
                name="message_frequency_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trigger}/{self.channel} to {self.to_address} ({self.status})"


class MessageEventType(models.TextChoices):
    QUEUED = "queued", _("Queued")
    HELD = "held", _("Held (quiet hours)")
    RELEASED = "released", _("Released")
    SUPPRESSED = "suppressed", _("Suppressed")
    SENT = "sent", _("Sent")
    RETRY = "retry", _("Provider error, will retry")
    DELIVERED = "delivered", _("Delivered")
    BOUNCED = "bounced", _("Bounced")
    COMPLAINED = "complained", _("Spam complaint")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    FAILED = "failed", _("Failed")


class MessageEvent(TenantModel):
    """One entry in a message's life (the ledger the console shows)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=14, choices=MessageEventType.choices)
    detail = models.CharField(max_length=500, blank=True)
    provider_event_id = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "provider_event_id"],
                condition=~models.Q(provider_event_id=""),
                name="message_event_provider_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class DueSend(TenantModel):
    """A message held until `due_at` (quiet hours), claimed by the periodic release task."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="due_send")
    due_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"message {self.message_id} due {self.due_at:%Y-%m-%d %H:%M}"


class PushSubscription(TenantModel):
    """A browser's Push API subscription, given on a tracking page."""

    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    customer_ref = models.CharField(max_length=100, blank=True, db_index=True)
    order_ref = models.CharField(max_length=100, blank=True, db_index=True)
    language = models.CharField(max_length=8, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "endpoint"], name="push_endpoint_unique")
        ]

    def __str__(self) -> str:
        return self.endpoint[:60]


class InboundSmsKind(models.TextChoices):
    OPT_OUT = "opt_out", _("Opt-out keyword")
    OPT_IN = "opt_in", _("Opt-in keyword")
    REVIEW = "review", _("Looks like an opt-out: review")
    OTHER = "other", _("Other reply")
    FAILED = "failed", _("Unreadable")


class InboundSms(TenantModel):
    """A verified inbound SMS as Twilio posted it, kept raw, unique by its MessageSid."""

    message_sid = models.CharField(max_length=64)
    from_number = models.CharField(max_length=32, blank=True)
    to_number = models.CharField(max_length=32, blank=True)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict)
    kind = models.CharField(max_length=8, choices=InboundSmsKind.choices)
    error = models.CharField(max_length=300, blank=True)
    reviewed = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("inbound SMS")
        verbose_name_plural = _("inbound SMS")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "message_sid"], name="inbound_sms_unique")
        ]

    def __str__(self) -> str:
        return f"{self.from_number}: {self.body[:40]}"
