"""Shipments: a parcel of an order travelling with a carrier, with its normalised status."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from commerce.models import Order, OrderLine
from postpurchase.models import Merchant, TenantModel
from tracking.domain import ExceptionReason, Lifecycle, ShipmentStatus

ShipmentStatusChoices = models.TextChoices(  # type: ignore[call-overload]
    "ShipmentStatusChoices", [(s.name, (s.value, s.label)) for s in ShipmentStatus]
)
ExceptionReasonChoices = models.TextChoices(  # type: ignore[call-overload]
    "ExceptionReasonChoices", [(r.name, (r.value, r.value or "-")) for r in ExceptionReason]
)
LifecycleChoices = models.TextChoices(  # type: ignore[call-overload]
    "LifecycleChoices", [(c.name, (c.value, c.value.replace("_", " "))) for c in Lifecycle]
)


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


class Shipment(TenantModel):
    public_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    external_id = models.CharField(max_length=100, blank=True)
    carrier = models.CharField(max_length=40)
    service = models.CharField(max_length=80, blank=True)
    tracking_number = models.CharField(max_length=64)
    origin_country = models.CharField(max_length=2, blank=True)
    origin_region = models.CharField(max_length=100, blank=True)
    origin_postcode = models.CharField(max_length=20, blank=True)
    destination_country = models.CharField(max_length=2)
    destination_region = models.CharField(max_length=100, blank=True)
    destination_postcode = models.CharField(max_length=20, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    # Normalised status (ARCHITECTURE.md "Shipment status model").
    status = models.CharField(
        max_length=24, choices=ShipmentStatusChoices.choices, default=ShipmentStatus.PENDING
    )
    status_reason = models.CharField(
        max_length=40, choices=ExceptionReasonChoices.choices, blank=True, default=""
    )
    action_required = models.BooleanField(default=False)
    lifecycle = models.CharField(
        max_length=20, choices=LifecycleChoices.choices, default=Lifecycle.PRE_TRANSIT
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True, help_text=_("Carrier time."))
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Polling back-off and the "stalled" sweep (tracking.polling).
    poll_failures = models.PositiveSmallIntegerField(default=0)
    stalled_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the no-scan sweep flagged it; cleared by a scan.")
    )
    # Delivery estimate, written by the estimates app through tracking.services.
    estimate_window_start = models.DateField(null=True, blank=True)
    estimate_window_end = models.DateField(null=True, blank=True)
    estimate_central = models.DateField(null=True, blank=True)
    promise_date = models.DateField(null=True, blank=True)
    first_promise_date = models.DateField(null=True, blank=True)
    estimate_model_version = models.CharField(max_length=64, blank=True)
    estimate_confidence = models.FloatField(null=True, blank=True)
    estimate_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    lines = models.ManyToManyField(OrderLine, through="ShipmentLine", related_name="shipments")

    class Meta:
        constraints = [
            # Carriers recycle tracking numbers: identity is carrier + number + ship date,
            # enforced in the service with a date window; this keeps one row per order.
            models.UniqueConstraint(
                fields=["merchant", "order", "carrier", "tracking_number"],
                name="shipment_unique_per_order",
            ),
            # What the events' (shipment, merchant) foreign key points at (TrackingEvent).
            models.UniqueConstraint(fields=["id", "merchant"], name="shipment_id_merchant_key"),
        ]
        indexes = [
            models.Index(fields=["carrier", "tracking_number"], name="shipment_tracking_idx"),
            models.Index(fields=["merchant", "status"], name="shipment_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class ShipmentLine(TenantModel):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="shipment_lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="shipment_qty_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.order_line_id}"


# --- Carrier events in: webhooks, normalised events, polling, ops counters -------------------


class EventSource(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook")
    POLL = "poll", _("Polling")
    IMPORT = "import", _("Bulk import")
    API = "api", _("API")


class ScanOrigin(models.IntegerChoices):
    """Who reported a scan: the carrier itself, an aggregator relaying it, or anyone else.

    Only a carrier's and an aggregator's report of the same scan are matched across sources
    (`tracking.scan_matching`); other origins (a store, our generic format) never are.
    """

    OTHER = 0, _("Other")
    CARRIER = 1, _("Carrier")
    AGGREGATOR = 2, _("Aggregator")


class TrackingEvent(TenantModel):
    """One carrier scan in our terms, kept once per shipment (see `tracking.normalisation`).

    A row with `duplicate_of` set is an aggregator's report of a scan the carrier also reported
    (the other row): kept so a re-delivery is recognised by its key, left out of the timeline.
    """

    # Integrity on PostgreSQL is ONE composite foreign key, (shipment_id, merchant_id) ->
    # tracking_shipment (id, merchant_id) (tracking migration 0004), so the shipment
    # exists and the event carries its shipment's merchant, whose own foreign key makes the
    # merchant exist. Two single-column keys were two deferred checks per inserted event, nearly
    # half of PostgreSQL's cost of a bulk import, and did not tie the two together.
    # No index on merchant_id: every read of events goes through their shipment (itself scoped
    # to the merchant), so it would only be written, once per event on every path.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    # No index of its own: the unique (shipment, dedupe_key) and the timeline (shipment,
    # occurred_at) indexes both start with shipment_id; a third one only slowed every insert.
    shipment = models.ForeignKey(
        Shipment,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    # sha256 of carrier, number, carrier time, code and location: the same scan from a webhook,
    # a poll and an import is one row.
    dedupe_key = models.CharField(max_length=64)
    carrier = models.CharField(max_length=40)
    tracking_number = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(help_text=_("Carrier time of the scan."))
    status = models.CharField(max_length=24, choices=ShipmentStatusChoices.choices)
    reason = models.CharField(
        max_length=40, choices=ExceptionReasonChoices.choices, blank=True, default=""
    )
    action_required = models.BooleanField(default=False)
    carrier_code = models.CharField(max_length=64, blank=True)
    carrier_text = models.TextField(blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)
    mapped = models.BooleanField(default=True)
    mapping_version = models.CharField(max_length=32, blank=True)
    estimated_delivery = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=EventSource.choices)
    received_at = models.DateTimeField(help_text=_("When the platform learnt of the scan."))
    # No CHECK (a Positive… field would add one, validated by a scan of the whole table).
    origin = models.SmallIntegerField(
        choices=ScanOrigin.choices, default=ScanOrigin.OTHER, db_default=ScanOrigin.OTHER
    )
    # 64-bit hash of UTC minute, status and normalised place (tracking.scan_matching); set for
    # carrier and aggregator scans only.
    match_key = models.BigIntegerField(null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
        help_text=_("The carrier's own report of this same scan (this one is not shown)."),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "dedupe_key"], name="tracking_event_unique_scan"
            ),
        ]
        indexes = [
            models.Index(fields=["shipment", "occurred_at"], name="tracking_event_timeline_idx"),
            # Few rows are matched: a partial index keeps inserts of the rest free of it.
            models.Index(
                fields=["duplicate_of"],
                condition=models.Q(duplicate_of__isnull=False),
                name="tracking_event_duplicate_idx",
            ),
        ]
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.status} {self.carrier_code}"


class WebhookSource(models.TextChoices):
    EASYPOST = "easypost", "EasyPost"
    AFTERSHIP = "aftership", "AfterShip"
    SHIPPO = "shippo", "Shippo"
    SHOPIFY = "shopify", "Shopify"
    GENERIC = "generic", _("Generic (our own format)")


class InboundWebhookState(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSING = "processing", _("Processing")
    PROCESSED = "processed", _("Processed")
    DUPLICATE = "duplicate", _("Nothing new")
    FAILED = "failed", _("Failed")


class InboundWebhook(TenantModel):
    """A verified request as it arrived: stored raw, unique per source event, processed later."""

    # No index of its own: the unique (merchant, source, unique_key) starts with merchant_id, and
    # every webhook the edge stores paid for a second one.
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, db_index=False)
    source = models.CharField(max_length=16, choices=WebhookSource.choices)
    topic = models.CharField(max_length=64, blank=True, help_text=_("The source's event type."))
    unique_key = models.CharField(
        max_length=128, help_text=_("The source's event id, or a hash of the body.")
    )
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    state = models.CharField(
        max_length=12, choices=InboundWebhookState.choices, default=InboundWebhookState.RECEIVED
    )
    error = models.TextField(blank=True, help_text=_("Why processing failed."))
    attempts = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(
        default=1, help_text=_("How often the source sent it (repeats are acknowledged only).")
    )
    events_new = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "source", "unique_key"], name="inbound_webhook_unique_key"
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(state="received"),
                name="inbound_webhook_due_idx",
            ),
            models.Index(fields=["state", "source"], name="inbound_webhook_state_idx"),
        ]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.source} {self.topic or '-'} {self.unique_key[:24]}"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class WebhookSecret(TenantModel):
    """A shared secret of one merchant and source, encrypted at rest (tracking.webhooks.secrets).

    Several may be active at once so a secret can be rotated without dropping deliveries.
    """

    source = models.CharField(max_length=16, choices=WebhookSource.choices)
    label = models.CharField(max_length=100, blank=True)
    encrypted_secret = models.TextField(editable=False)
    hint = models.CharField(max_length=8, editable=False, help_text=_("Last characters."))
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source", "-created_at"]
        indexes = [models.Index(fields=["merchant", "source"], name="webhook_secret_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.source} …{self.hint}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class UnmappedCarrierCode(models.Model):
    """A carrier code no mapping table knew, counted for ops so the table can be extended."""

    carrier = models.CharField(max_length=40)
    carrier_code = models.CharField(max_length=64)
    sample_text = models.TextField(blank=True)
    mapped_to = models.CharField(max_length=24, choices=ShipmentStatusChoices.choices)
    mapping_version = models.CharField(max_length=32, blank=True)
    occurrences = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "carrier_code"], name="unmapped_code_unique"
            ),
        ]
        ordering = ["-occurrences"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.carrier_code} x{self.occurrences}"


class CarrierPollState(models.Model):
    """Per-carrier polling budget: a rate-limit pause (Retry-After) and the failure streak."""

    carrier = models.CharField(max_length=40, unique=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.carrier
