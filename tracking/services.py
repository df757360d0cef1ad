"""Writes to shipments: creation (idempotent per order + carrier + number) and estimate recording.

Carrier events are recorded by the ingestion services (tracking/normalisation.py), not here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from commerce.errors import InvalidInputError
from commerce.models import Order, OrderLine, OrderStatus
from commerce.validation import country_error, utc_datetime
from postpurchase import outbox
from postpurchase.errors import DomainError
from tracking.errors import TrackingErrorCode
from tracking.models import Shipment, ShipmentLine
from tracking.selectors import shipped_quantities
from tracking.tracking_numbers import carrier_slug, normalise_number

_CARRIER_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_TRACKING_NUMBER_RE = re.compile(r"^[A-Z0-9]{4,64}$")


def carrier_normalise(carrier: str) -> str:
    """Our carrier slug: 'United Parcel Service' -> 'ups'; an unknown name keeps a stable slug."""
    if not any(ch.isalnum() for ch in carrier):
        return ""  # refused by the caller's check, never stored as "unknown"
    return carrier_slug(carrier)


def tracking_number_normalise(tracking_number: str) -> str:
    """Carriers print numbers with spaces, dashes and mixed case: 'ab-123 cd' -> 'AB123CD'."""
    return normalise_number(tracking_number)


@dataclass(frozen=True)
class ShipmentCreateResult:
    shipment: Shipment
    created: bool


def _clean_lines(
    *, order: Order, lines: Sequence[tuple[OrderLine, int]]
) -> list[tuple[OrderLine, int]]:
    """Merge repeats and check each line belongs to the order and has that much left to ship."""
    errors: dict[str, list[str]] = {}
    wanted: dict[int, tuple[OrderLine, int]] = {}
    for i, (line, quantity) in enumerate(lines):
        if line.order_id != order.pk:
            errors.setdefault(f"lines.{i}.order_line", []).append("Not a line of this order.")
            continue
        if quantity <= 0:
            errors.setdefault(f"lines.{i}.quantity", []).append("Must be a positive whole number.")
            continue
        previous = wanted.get(line.pk, (line, 0))[1]
        wanted[line.pk] = (line, previous + quantity)
    if errors:
        raise InvalidInputError(errors, code=TrackingErrorCode.LINE_NOT_IN_ORDER)
    shipped = shipped_quantities(order=order)
    index = {line.pk: i for i, (line, _) in enumerate(lines)}
    for line, quantity in wanted.values():
        left = line.quantity - shipped.get(line.pk, 0)
        if quantity > left:
            errors.setdefault(f"lines.{index[line.pk]}.quantity", []).append(
                f"Only {left} of line {line.external_id} left to ship "
                f"({line.quantity} ordered, {shipped.get(line.pk, 0)} already shipped)."
            )
    if errors:
        raise InvalidInputError(errors, code=TrackingErrorCode.LINE_OVER_SHIPPED)
    return list(wanted.values())


def _shipment_event_data(shipment: Shipment, order: Order) -> dict[str, Any]:
    return {
        "shipment_id": shipment.pk,
        "shipment_public_id": shipment.public_id,
        "order_id": order.pk,
        "order_external_id": order.external_id,
        "order_number": order.number,
        "customer_id": order.customer_id,
        "carrier": shipment.carrier,
        "service": shipment.service,
        "tracking_number": shipment.tracking_number,
        "origin_country": shipment.origin_country,
        "origin_postcode": shipment.origin_postcode,
        "destination_country": shipment.destination_country,
        "destination_postcode": shipment.destination_postcode,
        "shipped_at": shipment.shipped_at.isoformat() if shipment.shipped_at else None,
        "lines": [
            {"order_line_id": sl.order_line_id, "quantity": sl.quantity}
            for sl in shipment.shipment_lines.order_by("pk")
        ],
    }


def shipment_get_or_create(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    service: str = "",
    lines: Sequence[tuple[OrderLine, int]] = (),
    shipped_at: datetime | None = None,
    external_id: str = "",
    origin_country: str = "",
    origin_region: str = "",
    origin_postcode: str = "",
    destination_country: str = "",
    destination_region: str = "",
    destination_postcode: str = "",
) -> ShipmentCreateResult:
    """Create a shipment of an order and publish `shipment.created`, or return the existing one.

    The same order + carrier + tracking number is the same shipment: a retry has no second effect.
    The destination defaults to the order's shipping address.
    """
    carrier = carrier_normalise(carrier)
    tracking_number = tracking_number_normalise(tracking_number)
    errors: dict[str, list[str]] = {}
    if not _CARRIER_RE.match(carrier):
        errors["carrier"] = ["Use the carrier's code, e.g. ups, fedex, yamato (a-z, 0-9, -, _)."]
    if not _TRACKING_NUMBER_RE.match(tracking_number):
        errors["tracking_number"] = [
            "Use 4 to 64 letters and digits (spaces and dashes are dropped)."
        ]
    if shipped_at is not None:
        shipped_at_utc, message = utc_datetime(shipped_at)
        if message:
            errors["shipped_at"] = [message]
        shipped_at = shipped_at_utc
    origin_country = origin_country.strip().upper()
    destination_country = (destination_country or order.shipping_country).strip().upper()
    if origin_country and (message := country_error(origin_country)):
        errors["origin.country"] = [message]
    if message := country_error(destination_country):
        errors["destination.country"] = [message]
    if errors:
        raise InvalidInputError(errors, code=TrackingErrorCode.INVALID_SHIPMENT)

    for attempt in range(2):
        try:
            with transaction.atomic():
                # The order row lock serialises shipment creation per order (quantities left).
                locked = Order.objects.select_for_update().get(pk=order.pk)
                existing = Shipment.objects.filter(
                    merchant_id=locked.merchant_id,
                    order=locked,
                    carrier=carrier,
                    tracking_number=tracking_number,
                ).first()
                if existing is not None:
                    return ShipmentCreateResult(shipment=existing, created=False)
                if locked.status == OrderStatus.CANCELLED:
                    raise DomainError(
                        TrackingErrorCode.ORDER_CANCELLED,
                        "This order is cancelled; it cannot ship.",
                    )
                wanted = _clean_lines(order=locked, lines=lines)
                shipment = Shipment.objects.create(
                    merchant_id=locked.merchant_id,
                    order=locked,
                    external_id=external_id.strip(),
                    carrier=carrier,
                    service=service.strip(),
                    tracking_number=tracking_number,
                    shipped_at=shipped_at,
                    origin_country=origin_country,
                    origin_region=origin_region.strip(),
                    origin_postcode=origin_postcode.strip(),
                    destination_country=destination_country,
                    destination_region=(destination_region or locked.shipping_region).strip(),
                    destination_postcode=(destination_postcode or locked.shipping_postcode).strip(),
                )
                ShipmentLine.objects.bulk_create(
                    ShipmentLine(
                        merchant_id=locked.merchant_id,
                        shipment=shipment,
                        order_line=line,
                        quantity=quantity,
                    )
                    for line, quantity in wanted
                )
                outbox.publish(
                    merchant=locked.merchant,
                    type="shipment.created",
                    subject=f"shipment:{shipment.pk}",
                    data=_shipment_event_data(shipment, locked),
                )
                return ShipmentCreateResult(shipment=shipment, created=True)
        except IntegrityError:
            if attempt == 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def shipment_create(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    service: str = "",
    lines: Sequence[tuple[OrderLine, int]] = (),
    shipped_at: datetime | None = None,
    external_id: str = "",
    origin_country: str = "",
    origin_region: str = "",
    origin_postcode: str = "",
    destination_country: str = "",
    destination_region: str = "",
    destination_postcode: str = "",
) -> Shipment:
    """Create (or return the existing) shipment; see `shipment_get_or_create`."""
    return shipment_get_or_create(
        order=order,
        carrier=carrier,
        tracking_number=tracking_number,
        service=service,
        lines=lines,
        shipped_at=shipped_at,
        external_id=external_id,
        origin_country=origin_country,
        origin_region=origin_region,
        origin_postcode=origin_postcode,
        destination_country=destination_country,
        destination_region=destination_region,
        destination_postcode=destination_postcode,
    ).shipment


@dataclass(frozen=True)
class EstimateChange:
    """What a new estimate changed: the caller decides whether it is a delay worth telling."""

    shipment: Shipment
    old_promise: date | None
    new_promise: date
    old_central: date | None
    new_central: date
    first_promise: date

    @property
    def changed(self) -> bool:
        return self.old_promise != self.new_promise or self.old_central != self.new_central

    @property
    def slipped_days(self) -> int:
        """Days the promise moved later than the previous one (0 when earlier or first)."""
        if self.old_promise is None:
            return 0
        return max(0, (self.new_promise - self.old_promise).days)


@transaction.atomic
def shipment_estimate_record(
    *,
    shipment: Shipment,
    window_start: date,
    window_end: date,
    central: date,
    promise: date,
    model_version: str,
    confidence: float | None,
) -> EstimateChange:
    """Store a delivery estimate on the shipment; the first promise is kept to measure delays."""
    if not window_start <= central <= window_end:
        raise DomainError(
            TrackingErrorCode.INVALID_ESTIMATE,
            "The central date must lie inside the window.",
            field="central",
        )
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise DomainError(
            TrackingErrorCode.INVALID_ESTIMATE,
            "Confidence is a probability between 0 and 1.",
            field="confidence",
        )
    locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
    old_promise, old_central = locked.promise_date, locked.estimate_central
    locked.estimate_window_start = window_start
    locked.estimate_window_end = window_end
    locked.estimate_central = central
    locked.promise_date = promise
    if locked.first_promise_date is None:
        locked.first_promise_date = promise
    locked.estimate_model_version = model_version
    locked.estimate_confidence = confidence
    locked.estimate_updated_at = timezone.now()
    locked.save(
        update_fields=[
            "estimate_window_start",
            "estimate_window_end",
            "estimate_central",
            "promise_date",
            "first_promise_date",
            "estimate_model_version",
            "estimate_confidence",
            "estimate_updated_at",
            "updated_at",
        ]
    )
    return EstimateChange(
        shipment=locked,
        old_promise=old_promise,
        new_promise=promise,
        old_central=old_central,
        new_central=central,
        first_promise=locked.first_promise_date,
    )
