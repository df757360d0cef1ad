"""shipment_create: idempotent per order + carrier + number, quantities checked; estimates kept."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from commerce.errors import InvalidInputError
from commerce.services import order_cancel
from postpurchase.errors import DomainError
from postpurchase.models import DomainEvent
from tests.factories import OrderFactory, OrderLineFactory, ShipmentFactory
from tracking.models import Shipment, ShipmentLine
from tracking.services import (
    shipment_create,
    shipment_estimate_record,
    shipment_get_or_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(merchant_a):
    order = OrderFactory(merchant=merchant_a, number="1001", shipping_postcode="10001")
    OrderLineFactory(order=order, external_id="l-1", quantity=3)
    OrderLineFactory(order=order, external_id="l-2", quantity=1)
    return order


def test_create_stores_lines_and_publishes_created(order):
    line = order.lines.get(external_id="l-1")
    shipment = shipment_create(
        order=order,
        carrier=" UPS",
        tracking_number="1z 999 aa1 0123456784",
        service="ground",
        lines=[(line, 2)],
        shipped_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
    )
    assert shipment.carrier == "ups"
    assert shipment.tracking_number == "1Z999AA10123456784"
    assert shipment.destination_country == "US"
    assert shipment.destination_postcode == "10001"
    assert shipment.status == "pending"
    assert list(shipment.shipment_lines.values_list("order_line__external_id", "quantity")) == [
        ("l-1", 2)
    ]
    event = DomainEvent.objects.get(type="shipment.created")
    assert event.data["shipment_public_id"] == shipment.public_id
    assert event.data["order_external_id"] == order.external_id
    assert event.data["carrier"] == "ups"
    assert event.data["lines"] == [{"order_line_id": line.pk, "quantity": 2}]


def test_same_carrier_and_number_returns_the_existing_shipment(order):
    line = order.lines.get(external_id="l-1")
    first = shipment_get_or_create(
        order=order, carrier="ups", tracking_number="1Z12345", lines=[(line, 1)]
    )
    again = shipment_get_or_create(
        order=order, carrier="UPS", tracking_number="1z12345", lines=[(line, 1)]
    )
    assert first.created is True
    assert again.created is False
    assert again.shipment.pk == first.shipment.pk
    assert ShipmentLine.objects.filter(shipment=first.shipment).get().quantity == 1
    assert DomainEvent.objects.filter(type="shipment.created").count() == 1


def test_quantity_beyond_what_is_left_is_refused(order):
    line = order.lines.get(external_id="l-1")
    shipment_create(order=order, carrier="ups", tracking_number="AAAA1", lines=[(line, 2)])
    with pytest.raises(InvalidInputError) as exc:
        shipment_create(order=order, carrier="ups", tracking_number="AAAA2", lines=[(line, 2)])
    assert exc.value.code == "line_over_shipped"
    assert "Only 1 of line l-1 left" in exc.value.fields["lines.0.quantity"][0]
    assert Shipment.objects.count() == 1


def test_repeated_line_is_summed_before_checking(order):
    line = order.lines.get(external_id="l-2")
    with pytest.raises(InvalidInputError):
        shipment_create(order=order, carrier="ups", tracking_number="AAAA1", lines=[(line, 1)] * 2)


def test_line_of_another_order_is_refused(order, merchant_a):
    other = OrderLineFactory(order=OrderFactory(merchant=merchant_a), quantity=5)
    with pytest.raises(InvalidInputError) as exc:
        shipment_create(order=order, carrier="ups", tracking_number="AAAA1", lines=[(other, 1)])
    assert "lines.0.order_line" in exc.value.fields


def test_bad_carrier_and_number(order):
    with pytest.raises(InvalidInputError) as exc:
        shipment_create(order=order, carrier="!!!", tracking_number="#")
    assert {"carrier", "tracking_number"} <= set(exc.value.fields)


def test_cancelled_order_cannot_ship(order):
    order_cancel(order=order)
    with pytest.raises(DomainError) as exc:
        shipment_create(order=order, carrier="ups", tracking_number="AAAA1")
    assert exc.value.code == "order_cancelled"


def test_estimate_keeps_the_first_promise_and_reports_the_slip(merchant_a):
    shipment = ShipmentFactory(order__merchant=merchant_a)
    first = shipment_estimate_record(
        shipment=shipment,
        window_start=date(2026, 11, 24),
        window_end=date(2026, 11, 26),
        central=date(2026, 11, 25),
        promise=date(2026, 11, 26),
        model_version="table-v1",
        confidence=0.8,
    )
    assert first.old_promise is None
    assert first.slipped_days == 0
    later = shipment_estimate_record(
        shipment=shipment,
        window_start=date(2026, 11, 27),
        window_end=date(2026, 11, 29),
        central=date(2026, 11, 28),
        promise=date(2026, 11, 29),
        model_version="gbm-3",
        confidence=0.7,
    )
    assert later.old_promise == date(2026, 11, 26)
    assert later.slipped_days == 3
    assert later.changed
    shipment.refresh_from_db()
    assert shipment.first_promise_date == date(2026, 11, 26)
    assert shipment.promise_date == date(2026, 11, 29)
    assert shipment.estimate_model_version == "gbm-3"


def test_estimate_with_central_outside_window_is_refused(merchant_a):
    shipment = ShipmentFactory(order__merchant=merchant_a)
    with pytest.raises(DomainError) as exc:
        shipment_estimate_record(
            shipment=shipment,
            window_start=date(2026, 11, 24),
            window_end=date(2026, 11, 26),
            central=date(2026, 11, 30),
            promise=date(2026, 11, 26),
            model_version="x",
            confidence=None,
        )
    assert exc.value.field == "central"
