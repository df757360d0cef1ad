"""Delivery-estimate settings (warehouses, transit rules, closures, gift dates), the registry of
trained estimator versions, and the delays already announced."""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from estimates.business_days import holiday_calendar_supported
from postpurchase.models import TenantModel, validate_time_zone
from tracking.models import Shipment

WEEKDAY_CHOICES = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


def default_working_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


def validate_weekdays(value: object) -> None:
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(d, int) or not 0 <= d <= 6 for d in value)
    ):
        raise ValidationError(_("List the working weekdays as numbers 0 (Monday) to 6 (Sunday)."))


def validate_holiday_country(value: str) -> None:
    if value and not holiday_calendar_supported(value):
        raise ValidationError(
            _("No holiday calendar is known for %(value)s."), params={"value": value}
        )


class Warehouse(TenantModel):
    """Where parcels leave from: its zone decides the order cut-off, its calendar the work days."""

    code = models.SlugField(max_length=40, help_text=_("Your short name, e.g. 'tokyo-1'."))
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text=_("ISO country code, e.g. JP."))
    region = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    cutoff_time = models.TimeField(
        default=time(14, 0), help_text=_("Orders placed before this local time leave the same day.")
    )
    handling_days = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(30)], help_text=_("Working days to pack.")
    )
    working_weekdays = models.JSONField(
        default=default_working_weekdays, validators=[validate_weekdays]
    )
    holiday_country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_holiday_country],
        help_text=_("Whose public holidays close the warehouse (blank: its own country)."),
    )
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="warehouse_unique_code"),
            models.UniqueConstraint(
                fields=["merchant"],
                condition=models.Q(is_default=True),
                name="warehouse_one_default",
            ),
        ]
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class TransitRule(TenantModel):
    """Business days on the way for a carrier/service and lane; blank fields match anything."""

    carrier = models.CharField(max_length=40)
    service = models.CharField(max_length=80, blank=True)
    origin_country = models.CharField(max_length=2, blank=True)
    origin_region = models.CharField(max_length=100, blank=True)
    destination_country = models.CharField(max_length=2)
    destination_region = models.CharField(max_length=100, blank=True)
    destination_postcode_prefix = models.CharField(max_length=10, blank=True)
    min_days = models.PositiveSmallIntegerField(validators=[MaxValueValidator(120)])
    typical_days = models.PositiveSmallIntegerField(validators=[MaxValueValidator(120)])
    max_days = models.PositiveSmallIntegerField(validators=[MaxValueValidator(120)])
    calendar_country = models.CharField(
        max_length=2,
        blank=True,
        validators=[validate_holiday_country],
        help_text=_("Holiday calendar the carrier keeps (blank: the destination's)."),
    )
    calendar_subdivision = models.CharField(max_length=10, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_days__lte=models.F("typical_days"))
                & models.Q(typical_days__lte=models.F("max_days")),
                name="transit_rule_days_ordered",
            ),
            models.UniqueConstraint(
                fields=[
                    "merchant",
                    "carrier",
                    "service",
                    "origin_country",
                    "origin_region",
                    "destination_country",
                    "destination_region",
                    "destination_postcode_prefix",
                ],
                name="transit_rule_unique_lane",
            ),
        ]
        ordering = ["carrier", "service", "destination_country"]

    def __str__(self) -> str:
        lane = f"{self.origin_country or '*'}>{self.destination_country}"
        return f"{self.carrier} {self.service or '*'} {lane}: {self.typical_days}d"

    def clean(self) -> None:
        if not self.min_days <= self.typical_days <= self.max_days:
            raise ValidationError(_("Days must satisfy minimum <= typical <= maximum."))


class CarrierClosure(TenantModel):
    """A day a carrier does not move parcels, beyond weekends and national holidays."""

    carrier = models.CharField(max_length=40)
    date = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "carrier", "date"], name="carrier_closure_unique_day"
            ),
        ]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.carrier} closed {self.date}"


class GiftDate(TenantModel):
    """A date shoppers want parcels by (Christmas, Mother's Day): answered with an order-by time."""

    name = models.CharField(max_length=100)
    date = models.DateField()
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name", "date"], name="gift_date_unique"),
        ]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.name} {self.date}"


class EstimatorStage(models.TextChoices):
    PURCHASE = "purchase", _("At purchase")
    HANDOFF = "handoff", _("After carrier hand-off")


class EstimatorTier(models.TextChoices):
    RULES = "rules", _("Transit rules")
    LANE_STATS = "lane_stats", _("Lane statistics")
    GBM = "gbm", _("Gradient boosting")


class EstimatorVersion(TenantModel):
    """One trained estimator: its artifact (skops), schema, calibration and measured accuracy."""

    version = models.CharField(max_length=64)
    stage = models.CharField(max_length=10, choices=EstimatorStage.choices)
    tier = models.CharField(max_length=12, choices=EstimatorTier.choices)
    feature_schema = models.JSONField(default=dict)
    schema_fingerprint = models.CharField(max_length=32)
    library_versions = models.JSONField(default=dict)
    training_start = models.DateTimeField(null=True, blank=True)
    training_end = models.DateTimeField(help_text=_("Only data known before this was used."))
    n_train = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, help_text=_("Backtest figures."))
    tier_metrics = models.JSONField(default=dict, help_text=_("Backtest figures of every tier."))
    calibration = models.JSONField(default=dict)
    artifact = models.BinaryField(editable=False)
    artifact_sha256 = models.CharField(max_length=64, editable=False)
    artifact_path = models.CharField(max_length=300, blank=True, editable=False)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    refused_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "version"], name="estimator_version_unique"
            ),
            models.UniqueConstraint(
                fields=["merchant", "stage"],
                condition=models.Q(is_active=True),
                name="estimator_one_active_per_stage",
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.version} ({self.tier}, {self.stage})"


class ShipmentDelay(TenantModel):
    """A slip already announced as `shipment.delayed`: one row per shipment and new promise."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="+")
    old_promise = models.DateField()
    new_promise = models.DateField()
    new_central = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "new_promise"], name="shipment_delay_once_per_slip"
            ),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"shipment {self.shipment_id}: {self.old_promise} -> {self.new_promise}"


__all__ = [
    "CarrierClosure",
    "EstimatorStage",
    "EstimatorTier",
    "EstimatorVersion",
    "GiftDate",
    "ShipmentDelay",
    "TransitRule",
    "Warehouse",
]
