"""Shopify webhooks into the store-data and shipment services.

`orders/create` and `orders/updated` map the Shopify order JSON to `OrderInput` and upsert it;
`orders/cancelled` cancels; `fulfillments/create|update` create the fulfillment's shipments (one
per tracking number) and record its shipment status as an event through the Shopify adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from commerce.inputs import AddressInput, CustomerInput, OrderInput, OrderLineInput
from commerce.models import Order, OrderLine
from commerce.services import order_cancel, order_upsert
from postpurchase.models import Merchant
from tracking.carriers import get_adapter
from tracking.domain import CarrierParseError
from tracking.models import EventSource
from tracking.normalisation import ShipmentEvents, shipments_record_events
from tracking.services import shipment_create, tracking_number_normalise
from tracking.tracking_numbers import candidate_carriers, carrier_slug


class ShopifyPayloadError(ValueError):
    """A Shopify payload missing what the platform needs; the message names the field."""


@dataclass(frozen=True)
class ShopifyApplyResult:
    changed: bool
    events_new: int = 0


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()


def _money(data: Mapping[str, Any], key: str, default: str = "0") -> Decimal:
    raw = data.get(key)
    if raw in (None, ""):
        raw = default
    try:
        return Decimal(str(raw))
    except InvalidOperation as exc:
        raise ShopifyPayloadError(f"{key} is not an amount: {raw!r}") from exc


def _count(data: Mapping[str, Any], key: str, where: str) -> int:
    raw = data.get(key) or 0
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise ShopifyPayloadError(f"{where}.{key} is not a whole number: {raw!r}") from exc


def _time(data: Mapping[str, Any], key: str) -> datetime:
    raw = _text(data, key)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ShopifyPayloadError(f"{key} is not an ISO 8601 time: {raw!r}") from exc
    if value.tzinfo is None:
        raise ShopifyPayloadError(f"{key} has no time zone offset: {raw!r}")
    return value


def _shipping_total(order: Mapping[str, Any]) -> Decimal:
    shop_money = _obj(_obj(order.get("total_shipping_price_set")).get("shop_money"))
    if shop_money.get("amount") not in (None, ""):
        return _money(shop_money, "amount")
    lines = order.get("shipping_lines") or []
    return sum((_money(_obj(line), "price") for line in lines), Decimal("0"))


def order_input_from_shopify(order: Mapping[str, Any]) -> OrderInput:
    """The platform's order input from a Shopify order resource (pure; no database)."""
    external_id = _text(order, "id")
    if not external_id:
        raise ShopifyPayloadError("the order has no id")
    number = _text(order, "name").lstrip("#") or _text(order, "order_number") or external_id
    customer = _obj(order.get("customer"))
    address = _obj(order.get("shipping_address")) or _obj(order.get("billing_address"))
    lines = []
    for i, raw in enumerate(order.get("line_items") or []):
        line = _obj(raw)
        line_id = _text(line, "id")
        if not line_id:
            raise ShopifyPayloadError(f"line_items.{i} has no id")
        sku = _text(line, "sku") or (
            f"shopify-variant-{_text(line, 'variant_id')}"
            if _text(line, "variant_id")
            else f"shopify-line-{line_id}"
        )
        lines.append(
            OrderLineInput(
                external_id=line_id,
                sku=sku,
                quantity=_count(line, "quantity", f"line_items.{i}"),
                unit_price=_money(line, "price"),
                title=_text(line, "title") or _text(line, "name") or sku,
            )
        )
    shipping_lines = order.get("shipping_lines") or []
    return OrderInput(
        external_id=external_id,
        number=number,
        placed_at=_time(order, "processed_at" if order.get("processed_at") else "created_at"),
        currency=_text(order, "currency"),
        customer=CustomerInput(
            external_id=_text(customer, "id"),
            email=_text(customer, "email") or _text(order, "email"),
            phone=_text(customer, "phone") or _text(order, "phone"),
            first_name=_text(customer, "first_name"),
            last_name=_text(customer, "last_name"),
            language=_text(order, "customer_locale")[:2],
        ),
        shipping_address=AddressInput(
            country=_text(address, "country_code"),
            name=_text(address, "name"),
            address1=_text(address, "address1"),
            address2=_text(address, "address2"),
            city=_text(address, "city"),
            region=_text(address, "province_code") or _text(address, "province"),
            postcode=_text(address, "zip"),
        ),
        lines=lines,
        shipping_total=_shipping_total(order),
        tax_total=_money(order, "total_tax"),
        discount_total=_money(order, "total_discounts"),
        subtotal=_money(order, "subtotal_price") if order.get("subtotal_price") else None,
        total=_money(order, "total_price") if order.get("total_price") else None,
        discount_codes=[
            _text(_obj(c), "code") for c in order.get("discount_codes") or [] if _obj(c)
        ],
        language=_text(order, "customer_locale")[:2],
        shipping_method=_text(_obj(shipping_lines[0]), "title") if shipping_lines else "",
    )


def _order(merchant: Merchant, external_id: str) -> Order:
    order = Order.objects.for_merchant(merchant).filter(external_id=external_id).first()
    if order is None:
        raise ShopifyPayloadError(
            f"order {external_id} is not known yet (replay after its orders/create arrives)"
        )
    return order


def _fulfillment_numbers(fulfillment: Mapping[str, Any]) -> list[str]:
    numbers = [str(n) for n in fulfillment.get("tracking_numbers") or [] if n]
    if not numbers and fulfillment.get("tracking_number"):
        numbers = [str(fulfillment["tracking_number"])]
    return list(dict.fromkeys(tracking_number_normalise(n) for n in numbers))


def _carrier_for(company: str, number: str) -> str:
    if company:
        return carrier_slug(company)
    ranked = candidate_carriers(number)
    if not ranked:
        raise ShopifyPayloadError(
            f"fulfillment has no recognisable carrier (tracking_company {company!r}, "
            f"number {number})"
        )
    return ranked[0].carrier


def _fulfillment_lines(
    order: Order, fulfillment: Mapping[str, Any]
) -> Sequence[tuple[OrderLine, int]]:
    by_external = {line.external_id: line for line in order.lines.all()}
    wanted = []
    for raw in fulfillment.get("line_items") or []:
        line = _obj(raw)
        order_line = by_external.get(_text(line, "id"))
        quantity = _count(line, "quantity", "fulfillment.line_items")
        if order_line is not None and quantity > 0:
            wanted.append((order_line, quantity))
    return wanted


def _fulfillment_apply(merchant: Merchant, fulfillment: Mapping[str, Any]) -> ShopifyApplyResult:
    order = _order(merchant, _text(fulfillment, "order_id"))
    numbers = _fulfillment_numbers(fulfillment)
    if not numbers:
        # A fulfillment without tracking (local delivery, digital): nothing to track.
        return ShopifyApplyResult(changed=False)
    try:
        events = get_adapter("shopify").parse(fulfillment)
    except CarrierParseError as exc:
        raise ShopifyPayloadError(f"cannot parse the fulfillment: {exc}") from exc
    company = _text(fulfillment, "tracking_company")
    shipped_at = _time(fulfillment, "created_at") if fulfillment.get("created_at") else None
    lines = _fulfillment_lines(order, fulfillment)
    batch = []
    for index, number in enumerate(numbers):
        shipment = shipment_create(
            order=order,
            carrier=_carrier_for(company, number),
            tracking_number=number,
            service=_text(fulfillment, "service"),
            lines=lines if index == 0 else (),
            shipped_at=shipped_at,
            external_id=_text(fulfillment, "id"),
        )
        mine = [e for e in events if tracking_number_normalise(e.tracking_number) == number]
        batch.append(ShipmentEvents(shipment, mine, EventSource.WEBHOOK))
    results = shipments_record_events(batch=batch)
    return ShopifyApplyResult(changed=True, events_new=sum(r.new_events for r in results))


def shopify_webhook_apply(*, merchant: Merchant, topic: str, payload: Any) -> ShopifyApplyResult:
    """Apply one Shopify webhook to the store data and shipments of `merchant`."""
    data = _obj(payload)
    if not data:
        raise ShopifyPayloadError("the body is not a JSON object")
    if topic in ("orders/create", "orders/updated"):
        result = order_upsert(merchant=merchant, payload=order_input_from_shopify(data))
        return ShopifyApplyResult(changed=result.changed)
    if topic == "orders/cancelled":
        order = _order(merchant, _text(data, "id"))
        was_cancelled = order.status == "cancelled"
        order_cancel(order=order, reason=_text(data, "cancel_reason"))
        return ShopifyApplyResult(changed=not was_cancelled)
    if topic in ("fulfillments/create", "fulfillments/update"):
        return _fulfillment_apply(merchant, data)
    raise ShopifyPayloadError(f"topic {topic!r} is not one the platform subscribes to")
