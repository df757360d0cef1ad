"""Reads of shipments, always scoped to one merchant."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet, Sum

from commerce.models import Order, OrderLine
from postpurchase.errors import NotFoundError
from postpurchase.models import Merchant
from tracking.errors import TrackingErrorCode
from tracking.models import Shipment, ShipmentLine


def shipment_list(*, merchant: Merchant) -> QuerySet[Shipment]:
    """A merchant's shipments with their order and carried lines loaded."""
    return (
        Shipment.objects.for_merchant(merchant)
        .select_related("order")
        .prefetch_related(
            Prefetch(
                "shipment_lines",
                queryset=ShipmentLine.objects.select_related("order_line").order_by("pk"),
            )
        )
    )


def shipment_get(*, merchant: Merchant, public_id: str) -> Shipment:
    """One shipment by its public id; another merchant's shipment is not found."""
    shipment = shipment_list(merchant=merchant).filter(public_id=public_id).first()
    if shipment is None:
        raise NotFoundError(TrackingErrorCode.SHIPMENT_NOT_FOUND, "No such shipment.")
    return shipment


def shipped_quantities(*, order: Order) -> dict[int, int]:
    """Quantity already in shipments per order line id."""
    rows = (
        ShipmentLine.objects.filter(order_line__order=order)
        .values("order_line_id")
        .annotate(shipped=Sum("quantity"))
    )
    return {row["order_line_id"]: row["shipped"] for row in rows}


def order_lines_remaining(*, order: Order) -> dict[OrderLine, int]:
    """Each line of the order with the quantity not yet in a shipment."""
    shipped = shipped_quantities(order=order)
    return {line: line.quantity - shipped.get(line.pk, 0) for line in order.lines.order_by("pk")}
