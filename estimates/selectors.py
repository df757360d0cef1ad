"""Reads for estimates: merchant settings, the active estimator, and the shipment history frame
the estimator tiers learn from."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pandas as pd
from django.db.models import Min, QuerySet
from django.utils import timezone

from commerce.models import Product
from estimates.errors import EstimateErrorCode
from estimates.features import empty_history, normalise_history
from estimates.models import (
    CarrierClosure,
    EstimatorVersion,
    GiftDate,
    TransitRule,
    Warehouse,
)
from estimates.tiers.rules import TransitRuleSpec
from postpurchase.errors import NotFoundError
from postpurchase.models import Merchant
from tracking.domain import ShipmentStatus
from tracking.models import Shipment, TrackingEvent

PRE_TRANSIT = (ShipmentStatus.PENDING, ShipmentStatus.INFO_RECEIVED)


def carrier_service_key(carrier: str, service: str) -> str:
    """How carrier and service appear in features: 'ups:ground', or just 'ups'."""
    return f"{carrier}:{service}" if service else carrier


def warehouse_get(*, merchant: Merchant, code: str) -> Warehouse:
    warehouse = Warehouse.objects.for_merchant(merchant).filter(code=code).first()
    if warehouse is None:
        raise NotFoundError(
            EstimateErrorCode.WAREHOUSE_NOT_FOUND, f"No warehouse with code {code!r}."
        )
    return warehouse


def warehouse_default(*, merchant: Merchant) -> Warehouse | None:
    """The merchant's default warehouse (or its only one)."""
    warehouses = Warehouse.objects.for_merchant(merchant).order_by("-is_default", "code")
    return warehouses.first()


def product_get(*, merchant: Merchant, sku: str) -> Product:
    product = Product.objects.for_merchant(merchant).filter(sku=sku).first()
    if product is None:
        raise NotFoundError(EstimateErrorCode.PRODUCT_NOT_FOUND, f"No product with SKU {sku!r}.")
    return product


def transit_rule_specs(*, merchant: Merchant) -> list[TransitRuleSpec]:
    """The merchant's active transit rules in the form the rules tier uses."""
    rules = TransitRule.objects.for_merchant(merchant).filter(is_active=True)
    return [
        TransitRuleSpec(
            min_days=rule.min_days,
            typical_days=rule.typical_days,
            max_days=rule.max_days,
            carrier_service=carrier_service_key(rule.carrier, rule.service) if rule.service else "",
            origin_country=rule.origin_country,
            origin_region=rule.origin_region,
            destination_country=rule.destination_country,
            destination_region=rule.destination_region,
            destination_postcode_prefix=rule.destination_postcode_prefix,
        )
        for rule in rules
    ]


def transit_rules_for_carrier(*, merchant: Merchant, carrier: str) -> QuerySet[TransitRule]:
    return TransitRule.objects.for_merchant(merchant).filter(is_active=True, carrier=carrier)


def carrier_closed_dates(*, merchant: Merchant, carrier: str) -> list[date]:
    return list(
        CarrierClosure.objects.for_merchant(merchant)
        .filter(carrier=carrier)
        .values_list("date", flat=True)
    )


def gift_dates_upcoming(*, merchant: Merchant, today: date) -> list[GiftDate]:
    return list(
        GiftDate.objects.for_merchant(merchant).filter(is_active=True, date__gte=today)[:10]
    )


def estimator_active(*, merchant: Merchant, stage: str) -> EstimatorVersion | None:
    return (
        EstimatorVersion.objects.for_merchant(merchant).filter(stage=stage, is_active=True).first()
    )


def estimator_versions(*, merchant: Merchant) -> QuerySet[EstimatorVersion]:
    return EstimatorVersion.objects.for_merchant(merchant).defer("artifact")


def _local_naive(value: datetime | None, zone: zoneinfo.ZoneInfo) -> datetime | None:
    if value is None:
        return None
    return timezone.localtime(value, zone).replace(tzinfo=None)


def shipment_history_frame(
    *, merchant: Merchant, since: datetime, shipments: QuerySet[Shipment] | None = None
) -> pd.DataFrame:
    """The merchant's shipments of orders placed since `since`, as a shipment history frame.

    Times are in the merchant's zone (weekday and hour features are local); the carrier hand-off
    is the first scan past "label created".
    """
    zone = zoneinfo.ZoneInfo(merchant.time_zone)
    queryset = shipments if shipments is not None else Shipment.objects.for_merchant(merchant)
    queryset = queryset.filter(order__placed_at__gte=since).select_related("order")
    rows = list(queryset)
    if not rows:
        return empty_history()
    handoffs = dict(
        TrackingEvent.objects.filter(shipment__in=[s.pk for s in rows])
        .exclude(status__in=[s.value for s in PRE_TRANSIT])
        .values("shipment_id")
        .annotate(first=Min("occurred_at"))
        .values_list("shipment_id", "first")
    )
    line_counts = {
        s.pk: sum(line.quantity for line in s.shipment_lines.all())
        for s in queryset.prefetch_related("shipment_lines")
    }
    records = [shipment_record(s, handoffs.get(s.pk), line_counts.get(s.pk), zone) for s in rows]
    return normalise_history(pd.DataFrame.from_records(records))


def shipment_record(
    shipment: Shipment,
    handed_over_at: datetime | None,
    n_items: int | None,
    zone: zoneinfo.ZoneInfo,
) -> dict[str, object]:
    """One shipment as a history row."""
    order = shipment.order
    return {
        "order_id": f"shipment:{shipment.pk}",
        "purchased_at": _local_naive(order.placed_at, zone),
        "handed_over_at": _local_naive(handed_over_at, zone),
        "delivered_at": _local_naive(shipment.delivered_at, zone),
        "origin_country": shipment.origin_country,
        "origin_region": shipment.origin_region,
        "origin_postcode": shipment.origin_postcode,
        "destination_country": shipment.destination_country,
        "destination_region": shipment.destination_region,
        "destination_postcode": shipment.destination_postcode,
        "carrier_service": carrier_service_key(shipment.carrier, shipment.service),
        "seller_id": f"{shipment.origin_country}:{shipment.origin_postcode}",
        "category": "",
        "n_items": n_items or None,
        "price": float(order.subtotal),
    }


def shipment_handoff_at(*, shipment: Shipment) -> datetime | None:
    """The first scan past "label created", if the carrier has the parcel."""
    first: datetime | None = (
        TrackingEvent.objects.filter(shipment=shipment)
        .exclude(status__in=[s.value for s in PRE_TRANSIT])
        .aggregate(first=Min("occurred_at"))["first"]
    )
    return first


def history_since(*, days: int) -> datetime:
    return timezone.now() - timedelta(days=days)
