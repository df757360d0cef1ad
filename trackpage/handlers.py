"""Reactions of the tracking page to other apps' domain events."""

from __future__ import annotations

from postpurchase.models import DomainEvent
from trackpage import services

# Events after which an order's page shows something new: its page is rendered ahead of the
# shopper's next view (the notification that follows many of them brings the shopper).
RENDER_AHEAD_ON = (
    "order.created",
    "order.updated",
    "shipment.created",
    "shipment.events_recorded",
    "shipment.status_changed",
    "shipment.delayed",
    "delivery_rating.submitted",
)


def on_order_created(event: DomainEvent) -> None:
    """A new order may be a conversion of the same customer's earlier tracking page."""
    services.conversion_attribute(order_id=int(event.data["order_id"]))


def page_render_ahead(event: DomainEvent) -> None:
    """The order changed: its links' page heads kept in Redis are stale from now on, and its
    tracking page is rendered into the page cache before the shopper opens it."""
    order_id = event.data.get("order_id")
    if order_id is None:
        return
    services.pages_render_ahead(
        merchant_id=event.merchant_id, order_ids=[int(order_id)], changed=True
    )
