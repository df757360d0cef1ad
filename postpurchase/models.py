"""The platform kernel's tables: the tenant, its staff and API keys, and the event outbox."""

from __future__ import annotations

import uuid
import zoneinfo
from typing import Any, ClassVar, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a known IANA time zone."), params={"value": value}
        )


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1a2b3c."))


class Merchant(models.Model):
    """The tenant: one store brand, with its branding, languages and sending identities."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True, help_text=_("Used in public page URLs."))
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    default_language = models.CharField(max_length=8, default="en", choices=settings.LANGUAGES)
    languages = models.JSONField(default=list, blank=True, help_text=_("Languages offered."))
    currency = models.CharField(max_length=3, default="USD")
    country = models.CharField(max_length=2, default="US")
    support_email = models.EmailField(blank=True)
    support_url = models.URLField(blank=True)
    website = models.URLField(blank=True)
    custom_domain = models.CharField(max_length=253, blank=True, unique=True, null=True)
    # Branding: rendered as CSS custom properties on shopper pages.
    logo = models.FileField(upload_to="logos/", blank=True)
    primary_colour = models.CharField(max_length=7, default="#1f4bd8", validators=[hex_colour])
    accent_colour = models.CharField(max_length=7, default="#0f9d58", validators=[hex_colour])
    text_colour = models.CharField(max_length=7, default="#1b1b1f", validators=[hex_colour])
    background_colour = models.CharField(max_length=7, default="#ffffff", validators=[hex_colour])
    font_family = models.CharField(max_length=120, default="system-ui, sans-serif")
    # Sending identities.
    email_from_name = models.CharField(max_length=120, blank=True)
    email_from_address = models.EmailField(blank=True)
    sms_sender = models.CharField(max_length=20, blank=True, help_text=_("E.164 number or ID."))
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def offered_languages(self) -> list[str]:
        return list(self.languages) or [self.default_language]


class MerchantRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MARKETER = "marketer", _("Marketer")
    OPS = "ops", _("Ops")


class MerchantMembership(models.Model):
    """A staff user's role in one merchant; the console shows only these merchants' data."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=MerchantRole.choices, default=MerchantRole.ADMIN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"


class TenantQuerySet(models.QuerySet):
    def for_merchant(self, merchant: Merchant | int) -> Self:
        return self.filter(merchant=merchant)


class TenantModel(models.Model):
    """Base of every tenant-owned table: a non-null merchant and a scoped manager."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE)

    objects: ClassVar[models.Manager[Any]] = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class ApiScope(models.TextChoices):
    ORDERS_READ = "orders:read", _("Read orders and customers")
    ORDERS_WRITE = "orders:write", _("Create and update orders and customers")
    SHIPMENTS_READ = "shipments:read", _("Read shipments")
    SHIPMENTS_WRITE = "shipments:write", _("Create shipments")
    ESTIMATES = "estimates", _("Ask for delivery estimates")


class ApiKey(TenantModel):
    """A merchant API key: shown once, stored as a SHA-256 hash with a visible prefix."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DomainEvent(models.Model):
    """An outbox row: written in the transaction of the change, dispatched after commit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=80, db_index=True)
    subject = models.CharField(max_length=120, help_text=_("What it is about, e.g. order:42."))
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="event_undispatched_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}"


class HandlerRunState(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    RETRYING = "retrying", _("Failed, will retry")
    PARKED = "parked", _("Parked (needs ops)")


class HandlerRun(models.Model):
    """One handler's run of one event: the record that makes each handler run once per event."""

    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="handler_runs")
    handler = models.CharField(max_length=120)
    state = models.CharField(max_length=12, choices=HandlerRunState.choices)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="handler_run_once")
        ]

    def __str__(self) -> str:
        return f"{self.handler} for {self.event_id}: {self.state}"


class IdempotencyRecord(TenantModel):
    """The stored answer to a POST made with an `Idempotency-Key` header."""

    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return self.key
