"""Tracking's glue to the messaging engine: shipment and order events become notifications.

Each handler loads the shipment (or order) of the event, builds a `Recipient` and a
`ShipmentNotice` of plain data, and calls `notifications.services.notification_enqueue` with the
event's id, so a redelivered event makes no second message. Registered in `TrackingConfig.ready`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from commerce.models import Customer, Order
from notifications.domain import ItemLine, Recipient, ShipmentNotice
from notifications.services import (
    NotificationRequest,
    notification_enqueue,
    notifications_enqueue_many,
)
from notifications.triggers import Trigger
from postpurchase import outbox
from postpurchase.models import DomainEvent
from tracking.domain import ShipmentStatus
from tracking.models import Shipment

# Where a destination country has one zone, or a US state one main zone, quiet hours use it.
_EASTERN = "CT DE DC FL GA IN KY ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV"
_CENTRAL = "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI"
_US_STATE_ZONES = {
    **dict.fromkeys(_EASTERN.split(" "), "America/New_York"),
    **dict.fromkeys(_CENTRAL.split(" "), "America/Chicago"),
    **dict.fromkeys(("CO", "MT", "NM", "UT", "WY", "ID"), "America/Denver"),
    "AZ": "America/Phoenix",
    **dict.fromkeys(("CA", "NV", "OR", "WA"), "America/Los_Angeles"),
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
}
_SINGLE_ZONE_COUNTRIES = {
    "JP": "Asia/Tokyo",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "IT": "Europe/Rome",
    "ES": "Europe/Madrid",
    "SE": "Europe/Stockholm",
    "KR": "Asia/Seoul",
    "SG": "Asia/Singapore",
    "NZ": "Pacific/Auckland",
}


def destination_zone(*, country: str, region: str) -> str:
    """The delivery address's time zone when the address says it unambiguously, else ""."""
    country = (country or "").upper()
    if country == "US":
        return _US_STATE_ZONES.get((region or "").upper(), "")
    return _SINGLE_ZONE_COUNTRIES.get(country, "")


# --- Reading what a message needs (tracking may read its own and commerce's rows) ------------


def _shipments(events: Sequence[DomainEvent]) -> dict[int, Shipment]:
    """The shipments of many events in one read (each scoped to its event's merchant)."""
    wanted: dict[Any, set[int]] = {}
    for event in events:
        shipment_id = event.data.get("shipment_id")
        if shipment_id is not None:
            wanted.setdefault(event.merchant_id, set()).add(int(shipment_id))
    found: dict[int, Shipment] = {}
    for merchant_id, ids in wanted.items():
        rows = (
            Shipment.objects.for_merchant(merchant_id)
            .select_related("order__customer", "merchant")
            .prefetch_related("shipment_lines__order_line")
            .filter(pk__in=ids)
        )
        found.update({shipment.pk: shipment for shipment in rows})
    return found


def _shipment(event: DomainEvent) -> Shipment | None:
    shipment_id = event.data.get("shipment_id")
    if shipment_id is None:
        return None
    return (
        Shipment.objects.for_merchant(event.merchant_id)
        .select_related("order__customer", "merchant")
        .prefetch_related("shipment_lines__order_line")
        .filter(pk=shipment_id)
        .first()
    )


def _customer_ref(customer: Customer) -> str:
    return customer.external_id or f"id:{customer.pk}"


def _recipient(order: Order) -> Recipient:
    customer = order.customer
    return Recipient(
        name=customer.full_name or order.shipping_name,
        first_name=customer.first_name,
        email=customer.email,
        phone=customer.phone,
        language=order.language or customer.language,
        time_zone=customer.time_zone,
        customer_ref=_customer_ref(customer),
    )


def _items_of_shipment(shipment: Shipment) -> tuple[ItemLine, ...]:
    lines = [
        ItemLine(title=sl.order_line.title, quantity=sl.quantity)
        for sl in shipment.shipment_lines.all()
    ]
    if lines:
        return tuple(lines)
    return _items_of_order(shipment.order)


def _items_of_order(order: Order) -> tuple[ItemLine, ...]:
    return tuple(
        ItemLine(title=line.title, quantity=line.quantity) for line in order.lines.order_by("pk")
    )


def _notice(shipment: Shipment, event: DomainEvent, **overrides: object) -> ShipmentNotice:
    order = shipment.order
    occurred = event.data.get("occurred_at")
    values: dict[str, object] = {
        "order_number": order.number,
        "items": _items_of_shipment(shipment),
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "tracking_ref": shipment.public_id,
        "status": shipment.status,
        "reason": shipment.status_reason,
        "action_required": shipment.action_required,
        "estimate_start": shipment.estimate_window_start or shipment.promise_date,
        "estimate_end": shipment.estimate_window_end or shipment.promise_date,
        "destination_city": order.shipping_city,
        "destination_time_zone": destination_zone(
            country=shipment.destination_country,
            region=shipment.destination_region or order.shipping_region,
        ),
        "occurred_at": datetime.fromisoformat(occurred) if isinstance(occurred, str) else None,
    }
    values.update(overrides)
    return ShipmentNotice(**values)  # type: ignore[arg-type]


def _request(
    shipment: Shipment, trigger: str, event_id: str, notice: ShipmentNotice
) -> NotificationRequest:
    order = shipment.order
    recipient = _recipient(order)
    return NotificationRequest(
        trigger=trigger,
        recipient=recipient,
        context=notice,
        event_id=event_id,
        order_ref=order.number,
        customer_ref=recipient.customer_ref,
    )


def _enqueue(shipment: Shipment, trigger: str, event_id: str, notice: ShipmentNotice) -> None:
    request = _request(shipment, trigger, event_id, notice)
    notification_enqueue(
        merchant=shipment.merchant,
        trigger=request.trigger,
        recipient=request.recipient,
        context=request.context,
        event_id=request.event_id,
        order_ref=request.order_ref,
        customer_ref=request.customer_ref,
    )


# --- Handlers ---------------------------------------------------------------------------------


def _milestone(trigger: str) -> Callable[[DomainEvent], None]:
    def handle(event: DomainEvent) -> None:
        shipment = _shipment(event)
        if shipment is None:
            return
        _enqueue(shipment, trigger, str(event.id), _notice(shipment, event))

    handle.__name__ = f"notify_{trigger}"
    return handle


def _milestone_batch(trigger: str) -> Callable[[Sequence[DomainEvent]], None]:
    """The batch form of `_milestone`: a burst of events (a carrier webhook batch) becomes one
    read of the shipments and one `notifications_enqueue_many` per merchant."""

    def handle_many(events: Sequence[DomainEvent]) -> None:
        shipments = _shipments(events)
        by_merchant: dict[Any, tuple[Any, list[NotificationRequest]]] = {}
        for event in events:
            shipment = shipments.get(int(event.data.get("shipment_id") or 0))
            if shipment is None or shipment.merchant_id != event.merchant_id:
                continue
            request = _request(shipment, trigger, str(event.id), _notice(shipment, event))
            by_merchant.setdefault(shipment.merchant_id, (shipment.merchant, []))[1].append(request)
        for merchant, requests in by_merchant.values():
            notifications_enqueue_many(merchant=merchant, requests=requests)

    handle_many.__name__ = f"notify_{trigger}_many"
    return handle_many


def _parse_date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def notify_delayed(event: DomainEvent) -> None:
    """`shipment.delayed` from estimates: the new window, and the promise it replaces."""
    shipment = _shipment(event)
    if shipment is None:
        return
    new_promise = _parse_date(event.data.get("new_promise"))
    old_promise = _parse_date(event.data.get("old_promise"))
    start = shipment.estimate_window_start or new_promise
    end = shipment.estimate_window_end or new_promise
    if new_promise is not None and end is not None and end < new_promise:
        end = new_promise
    notice = _notice(
        shipment,
        event,
        estimate_start=start,
        estimate_end=end,
        previous_estimate_start=old_promise,
        previous_estimate_end=old_promise,
    )
    _enqueue(shipment, Trigger.DELAYED, str(event.id), notice)


_STILL_MOVING = {ShipmentStatus.INFO_RECEIVED, ShipmentStatus.IN_TRANSIT}


def notify_arriving_tomorrow(event: DomainEvent) -> None:
    """On new scans: when the expected day is tomorrow where the parcel goes, say so once."""
    shipment = _shipment(event)
    if shipment is None or shipment.status not in _STILL_MOVING:
        return
    expected = shipment.estimate_central or shipment.promise_date
    if expected is None:
        return
    zone = destination_zone(
        country=shipment.destination_country, region=shipment.destination_region
    ) or (shipment.order.customer.time_zone or shipment.merchant.time_zone)
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    local_today = timezone.now().astimezone(tz).date()
    if expected != local_today + timedelta(days=1):
        return
    notice = _notice(shipment, event, estimate_start=expected, estimate_end=expected)
    # One "arriving tomorrow" per shipment and expected day, however many scans arrive.
    event_key = f"arriving_tomorrow:{shipment.pk}:{expected.isoformat()}"
    _enqueue(shipment, Trigger.ARRIVING_TOMORROW, event_key, notice)


def notify_order_confirmed(event: DomainEvent) -> None:
    order = (
        Order.objects.for_merchant(event.merchant_id)
        .select_related("customer", "merchant")
        .filter(pk=event.data.get("order_id"))
        .first()
    )
    if order is None:
        return
    recipient = _recipient(order)
    notice = ShipmentNotice(
        order_number=order.number,
        items=_items_of_order(order),
        destination_city=order.shipping_city,
        destination_time_zone=destination_zone(
            country=order.shipping_country, region=order.shipping_region
        ),
    )
    notification_enqueue(
        merchant=order.merchant,
        trigger=Trigger.ORDER_CONFIRMED,
        recipient=recipient,
        context=notice,
        event_id=str(event.id),
        order_ref=order.number,
        customer_ref=recipient.customer_ref,
    )


MILESTONE_TRIGGERS = {
    "shipment.created": Trigger.SHIPPED,
    "shipment.out_for_delivery": Trigger.OUT_FOR_DELIVERY,
    "shipment.delivered": Trigger.DELIVERED,
    "shipment.attempt_failed": Trigger.ATTEMPT_FAILED,
    "shipment.exception": Trigger.EXCEPTION,
    "shipment.available_for_pickup": Trigger.AVAILABLE_FOR_PICKUP,
    "shipment.stalled": Trigger.STALLED,
}


def register() -> None:
    """Subscribe tracking's notification handlers (called from TrackingConfig.ready)."""
    for event_type, trigger in MILESTONE_TRIGGERS.items():
        outbox.register(
            event_type,
            f"tracking.notify_{trigger}",
            _milestone(trigger),
            batch_fn=_milestone_batch(trigger),
        )
    outbox.register("shipment.delayed", "tracking.notify_delayed", notify_delayed)
    outbox.register(
        "shipment.events_recorded", "tracking.notify_arriving_tomorrow", notify_arriving_tomorrow
    )
    outbox.register("order.created", "tracking.notify_order_confirmed", notify_order_confirmed)
