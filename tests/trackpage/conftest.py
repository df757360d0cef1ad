"""Fixtures of the tracking-page tests: an order of merchant_a with a moving shipment."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    ShipmentFactory,
)
from trackpage import links

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def add_events(shipment, count: int, *, status: str = "in_transit"):  # type: ignore[no-untyped-def]
    """`count` carrier scans, one an hour from START, the last one with `status`."""
    from tracking.models import TrackingEvent

    rows = []
    first = TrackingEvent.objects.filter(shipment=shipment).count()
    for i in range(first, first + count):
        occurred = START + timedelta(hours=i)
        rows.append(
            TrackingEvent(
                merchant=shipment.merchant,
                shipment=shipment,
                dedupe_key=hashlib.sha256(f"{shipment.pk}:{i}".encode()).hexdigest(),
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                occurred_at=occurred,
                status=status if i == first + count - 1 else "in_transit",
                carrier_code="IT" if i < first + count - 1 else status.upper(),
                carrier_text=f"Scan {i}: arrived at facility",
                city=f"Hub {i}",
                country="US",
                source="webhook",
                received_at=occurred,
            )
        )
    TrackingEvent.objects.bulk_create(rows)
    return rows


@pytest.fixture
def order_a(merchant_a):  # type: ignore[no-untyped-def]
    merchant_a.website = "https://www.aurora.example"
    merchant_a.support_url = "https://help.aurora.example/contact"
    merchant_a.save()
    customer = CustomerFactory(merchant=merchant_a, email="Alice.Ng@Example.com")
    return OrderFactory(
        merchant=merchant_a,
        customer=customer,
        number="1001",
        shipping_postcode="10001",
        shipping_country="US",
    )


@pytest.fixture
def shipment_a(order_a):  # type: ignore[no-untyped-def]
    line = OrderLineFactory(
        order=order_a,
        product=ProductFactory(
            merchant=order_a.merchant,
            title="Merino crew sock",
            url="https://www.aurora.example/p/sock",
        ),
    )
    shipment = ShipmentFactory(
        order=order_a,
        carrier="ups",
        status="in_transit",
        estimate_window_start=date(2026, 11, 24),
        estimate_window_end=date(2026, 11, 26),
        promise_date=date(2026, 11, 26),
        first_promise_date=date(2026, 11, 26),
        estimate_updated_at=datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
    )
    from tracking.models import ShipmentLine

    ShipmentLine.objects.create(
        merchant=order_a.merchant, shipment=shipment, order_line=line, quantity=line.quantity
    )
    add_events(shipment, 3)
    return shipment


@pytest.fixture
def order_b(merchant_b):  # type: ignore[no-untyped-def]
    """merchant_b's look-alike order 1001 with the same customer email."""
    customer = CustomerFactory(merchant=merchant_b, email="alice.ng@example.com")
    order = OrderFactory(
        merchant=merchant_b, customer=customer, number="1001", shipping_postcode="100-0001"
    )
    ShipmentFactory(order=order, carrier="ups")
    return order


def page_url(merchant, shipment) -> str:  # type: ignore[no-untyped-def]
    token = links.page_token_for_shipment(
        merchant_slug=merchant.slug, shipment_public_id=shipment.public_id
    )
    return f"/{merchant.slug}/track/t/{token}/"
