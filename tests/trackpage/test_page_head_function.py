"""The page head on PostgreSQL runs as the `trackpage_page_head` function (migration 0002), whose
body repeats the selector's query: the two must give the same rows for every kind of page."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import CustomerFactory, OrderFactory, ShipmentFactory
from trackpage import selectors
from trackpage.models import DeliveryRating, TrackingLinkRevocation

pytestmark = pytest.mark.django_db


def _rows(sql: str, public_id: str, merchant_id: int) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [public_id, merchant_id])
        return cursor.fetchall()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the function is PostgreSQL's")
def test_the_function_gives_the_selectors_rows(shipment_a, merchant_b, order_b):
    order = shipment_a.order
    second = ShipmentFactory(order=order, carrier="fedex", status="delivered")
    DeliveryRating.objects.create(merchant=order.merchant, shipment=second, score=4)
    customer = CustomerFactory(merchant=order.merchant, time_zone="")
    bare = ShipmentFactory(order=OrderFactory(merchant=order.merchant, customer=customer))
    TrackingLinkRevocation.objects.create(
        merchant=bare.merchant, order=bare.order, revoked_before=bare.created_at
    )
    cases = [
        (shipment_a.public_id, order.merchant_id),  # two shipments, one rated
        (second.public_id, order.merchant_id),  # opened through the other shipment
        (bare.public_id, bare.merchant_id),  # a customer with no zone, links revoked
        (shipment_a.public_id, merchant_b.pk),  # another merchant's shipment: nothing
        ("no-such-shipment", order.merchant_id),
    ]
    for public_id, merchant_id in cases:
        expected = _rows(selectors.head_sql(), public_id, merchant_id)
        assert _rows(selectors.HEAD_FUNCTION_SQL, public_id, merchant_id) == expected
    assert len(_rows(selectors.HEAD_FUNCTION_SQL, shipment_a.public_id, order.merchant_id)) == 2
    assert _rows(selectors.HEAD_FUNCTION_SQL, shipment_a.public_id, merchant_b.pk) == []
