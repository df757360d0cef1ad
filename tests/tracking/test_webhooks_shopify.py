"""Shopify webhooks feed the order and shipment services of the platform."""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import count

import pytest

from commerce.models import Order, OrderStatus
from postpurchase.models import DomainEvent
from tracking.domain import ShipmentStatus
from tracking.ingest import inbound_webhook_replay
from tracking.models import InboundWebhook, InboundWebhookState, Shipment
from tracking.shopify_sync import ShopifyPayloadError, order_input_from_shopify
from tracking.webhooks import shopify
from tracking.webhooks.secrets import forget_cached, webhook_secret_add

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "shopify-app-secret-0123456789"
_ids = count(1)


def shopify_order(**changes):
    order = {
        "id": 820982911946154508,
        "name": "#1001",
        "order_number": 1001,
        "email": "alice@example.com",
        "created_at": "2026-11-20T10:15:00-05:00",
        "processed_at": "2026-11-20T10:15:00-05:00",
        "currency": "USD",
        "subtotal_price": "36.00",
        "total_tax": "2.88",
        "total_discounts": "0.00",
        "total_price": "43.88",
        "total_shipping_price_set": {"shop_money": {"amount": "5.00", "currency_code": "USD"}},
        "customer_locale": "en-US",
        "discount_codes": [],
        "customer": {
            "id": 115310627314723954,
            "email": "alice@example.com",
            "first_name": "Alice",
            "last_name": "Ng",
        },
        "shipping_address": {
            "name": "Alice Ng",
            "address1": "1 Main St",
            "city": "Springfield",
            "province_code": "IL",
            "zip": "62701",
            "country_code": "US",
        },
        "shipping_lines": [{"title": "Ground", "price": "5.00"}],
        "line_items": [
            {
                "id": 466157049,
                "sku": "TEE-BLUE-M",
                "title": "Blue tee",
                "quantity": 2,
                "price": "18.00",
            }
        ],
    }
    order.update(changes)
    return order


def fulfillment(**changes):
    data = {
        "id": 255858046,
        "order_id": 820982911946154508,
        "status": "success",
        "created_at": "2026-11-21T09:00:00-05:00",
        "updated_at": "2026-11-21T09:00:00-05:00",
        "tracking_company": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "tracking_numbers": ["1Z999AA10123456784"],
        "shipment_status": "in_transit",
        "line_items": [{"id": 466157049, "quantity": 2}],
    }
    data.update(changes)
    return data


@pytest.fixture(autouse=True)
def shopify_secret(merchant_a):
    forget_cached()
    webhook_secret_add(merchant=merchant_a, source="shopify", secret=SECRET)
    yield
    forget_cached()


def deliver(client, topic: str, payload, webhook_id: str | None = None):
    body = json.dumps(payload).encode()
    headers = shopify.sign(body, SECRET, topic=topic, webhook_id=webhook_id or f"wh-{next(_ids)}")
    return client.post(
        "/webhooks/shopify/aurora/", data=body, content_type="application/json", headers=headers
    )


def test_order_create_maps_the_shopify_order(client, merchant_a):
    assert deliver(client, "orders/create", shopify_order()).status_code == 202
    order = Order.objects.for_merchant(merchant_a).get()
    assert (order.number, order.external_id) == ("1001", "820982911946154508")
    assert order.total == Decimal("43.88")
    assert order.shipping_total == Decimal("5.00")
    assert (order.shipping_city, order.shipping_country) == ("Springfield", "US")
    assert order.customer.email == "alice@example.com"
    assert [(line.sku, line.quantity) for line in order.lines.all()] == [("TEE-BLUE-M", 2)]
    assert InboundWebhook.objects.get().state == InboundWebhookState.PROCESSED


def test_retried_delivery_and_unchanged_update_have_no_second_effect(client, merchant_a):
    deliver(client, "orders/create", shopify_order(), webhook_id="wh-same")
    assert deliver(client, "orders/create", shopify_order(), webhook_id="wh-same").json() == {
        "id": InboundWebhook.objects.get().pk,
        "duplicate": True,
    }
    deliver(client, "orders/updated", shopify_order())
    states = list(InboundWebhook.objects.order_by("pk").values_list("state", flat=True))
    assert states == [InboundWebhookState.PROCESSED, InboundWebhookState.DUPLICATE]
    assert DomainEvent.objects.filter(type__startswith="order.").count() == 1


def test_fulfillments_create_the_shipment_and_record_its_status(client, merchant_a):
    deliver(client, "orders/create", shopify_order())
    deliver(client, "fulfillments/create", fulfillment())
    shipment = Shipment.objects.for_merchant(merchant_a).get()
    assert (shipment.carrier, shipment.tracking_number) == ("ups", "1Z999AA10123456784")
    assert shipment.status == ShipmentStatus.IN_TRANSIT
    assert [(sl.order_line.sku, sl.quantity) for sl in shipment.shipment_lines.all()] == [
        ("TEE-BLUE-M", 2)
    ]
    deliver(
        client,
        "fulfillments/update",
        fulfillment(shipment_status="delivered", updated_at="2026-11-23T15:00:00-05:00"),
    )
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED
    assert Shipment.objects.count() == 1
    assert DomainEvent.objects.filter(type="shipment.created").count() == 1
    assert DomainEvent.objects.filter(type="shipment.delivered").count() == 1


def test_fulfillment_before_its_order_fails_then_replays(client, merchant_a):
    deliver(client, "fulfillments/create", fulfillment())
    hook = InboundWebhook.objects.get()
    assert hook.state == InboundWebhookState.FAILED
    assert "order 820982911946154508 is not known yet" in hook.error
    deliver(client, "orders/create", shopify_order())
    inbound_webhook_replay(webhook=hook)
    hook.refresh_from_db()
    assert hook.state == InboundWebhookState.PROCESSED
    assert Shipment.objects.for_merchant(merchant_a).count() == 1


def test_order_cancelled(client, merchant_a):
    deliver(client, "orders/create", shopify_order())
    deliver(client, "orders/cancelled", shopify_order(cancel_reason="customer"))
    assert Order.objects.get().status == OrderStatus.CANCELLED
    assert DomainEvent.objects.get(type="order.cancelled").data["reason"] == "customer"


def test_invalid_order_is_failed_with_field_messages(client):
    deliver(client, "orders/create", shopify_order(currency="dollars", shipping_address={}))
    hook = InboundWebhook.objects.get()
    assert hook.state == InboundWebhookState.FAILED
    assert "currency" in hook.error


def test_order_mapping_names_what_is_missing():
    with pytest.raises(ShopifyPayloadError, match=r"line_items\.0 has no id"):
        order_input_from_shopify(shopify_order(line_items=[{"sku": "X", "quantity": 1}]))
    with pytest.raises(ShopifyPayloadError, match="created_at has no time zone"):
        order_input_from_shopify(shopify_order(processed_at=None, created_at="2026-11-20T10:15:00"))
    blank_sku = order_input_from_shopify(
        shopify_order(
            line_items=[{"id": 1, "variant_id": 77, "sku": "", "quantity": 1, "price": "2"}]
        )
    )
    assert blank_sku.lines[0].sku == "shopify-variant-77"
