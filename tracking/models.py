"""Shipments: a parcel of an order travelling with a carrier, with its normalised status."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from commerce.models import Order, OrderLine
from postpurchase.models import TenantModel
from tracking.domain import ExceptionReason, Lifecycle, ShipmentStatus

ShipmentStatusChoices = models.TextChoices(  # type: ignore[misc]
    "ShipmentStatusChoices", [(s.name, (s.value, s.label)) for s in ShipmentStatus]
)
ExceptionReasonChoices = models.TextChoices(  # type: ignore[misc]
    "ExceptionReasonChoices", [(r.name, (r.value, r.value or "-")) for r in ExceptionReason]
)
LifecycleChoices = models.TextChoices(  # type: ignore[misc]
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
