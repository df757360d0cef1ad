"""Reactions to tracking's events: a new shipment or new carrier scans refresh its estimate."""

from __future__ import annotations

from estimates.services import shipment_estimate_refresh
from postpurchase import outbox
from postpurchase.models import DomainEvent
from tracking.models import Shipment

SHIPMENT_CREATED = "shipment.created"
EVENTS_RECORDED = "shipment.events_recorded"


def on_shipment_changed(event: DomainEvent) -> None:
    """Refresh the estimate of the shipment the event is about (idempotent: same inputs, same
    estimate; a slip is announced once)."""
    shipment_id = event.data.get("shipment_id")
    shipment = (
        Shipment.objects.for_merchant(event.merchant_id)
        .select_related("order", "merchant")
        .filter(pk=shipment_id)
        .first()
    )
    if shipment is None:  # deleted since: nothing to estimate
        return
    shipment_estimate_refresh(shipment=shipment)


def register_all() -> None:
    outbox.register(SHIPMENT_CREATED, "estimates.refresh_on_created", on_shipment_changed)
    outbox.register(EVENTS_RECORDED, "estimates.refresh_on_events", on_shipment_changed)
