"""Reactions of the tracking page to other apps' domain events."""

from __future__ import annotations

from postpurchase.models import DomainEvent
from trackpage import services


def on_order_created(event: DomainEvent) -> None:
    """A new order may be a conversion of the same customer's earlier tracking page."""
    services.conversion_attribute(order_id=int(event.data["order_id"]))
