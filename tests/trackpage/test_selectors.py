"""Reads of the tracking page written in SQL by hand: what they return."""

from __future__ import annotations

import pytest

from tests.factories import OrderLineFactory, ProductFactory, ShipmentFactory
from trackpage.selectors import unshipped_items

pytestmark = pytest.mark.django_db


def test_unshipped_items_are_what_no_shipment_carries_yet(order_a):
    from tracking.models import ShipmentLine

    merchant = order_a.merchant
    socks = OrderLineFactory(
        order=order_a,
        quantity=3,
        product=ProductFactory(merchant=merchant, title="Sock", image_url="https://i.example/s"),
    )
    OrderLineFactory(order=order_a, quantity=1, product=None, sku="HAT", title="Hat")
    scarf = OrderLineFactory(order=order_a, quantity=1)
    first, second = ShipmentFactory(order=order_a), ShipmentFactory(order=order_a)
    ShipmentLine.objects.create(merchant=merchant, shipment=first, order_line=socks, quantity=1)
    ShipmentLine.objects.create(merchant=merchant, shipment=second, order_line=socks, quantity=1)
    ShipmentLine.objects.create(merchant=merchant, shipment=second, order_line=scarf, quantity=1)

    items = unshipped_items(order=order_a)

    assert [(i.title, i.quantity, i.sku, i.image_url) for i in items] == [
        ("Sock", 1, socks.sku, "https://i.example/s"),
        ("Hat", 1, "HAT", ""),
    ]
