"""POST /api/v1/orders/{id}/shipments/ and GET /api/v1/shipments/."""

from __future__ import annotations

import pytest

from postpurchase.models import DomainEvent
from tests.api import payloads
from tests.factories import OrderFactory, OrderLineFactory, ShipmentFactory
from tracking.models import Shipment

pytestmark = pytest.mark.django_db

SHIP = "/api/v1/orders/gid://shop/Order/1001/shipments/"


@pytest.fixture
def order(api_client_a):
    assert api_client_a.post("/api/v1/orders/", payloads.order(), format="json").status_code == 201


def test_create_returns_opaque_id_and_lines(api_client_a, order, merchant_a):
    response = api_client_a.post(
        SHIP,
        {
            "carrier": "UPS",
            "tracking_number": "1Z 999 AA1 0123456784",
            "service": "ground",
            "shipped_at": "2026-11-21T09:00:00Z",
            "origin": {"country": "US", "postcode": "94107"},
            "lines": [{"order_line": "line-1", "quantity": 2}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    shipment = Shipment.objects.get()
    assert body["id"] == shipment.public_id
    assert str(shipment.pk) != body["id"]
    assert body["order"] == {"external_id": "gid://shop/Order/1001", "number": "1001"}
    assert body["carrier"] == "ups"
    assert body["tracking_number"] == "1Z999AA10123456784"
    assert body["status"] == "pending"
    assert body["destination"] == {"country": "US", "region": "NY", "postcode": "10001"}
    assert body["origin"]["postcode"] == "94107"
    assert body["lines"] == [{"order_line": "line-1", "sku": "SOCK-1", "quantity": 2}]
    assert DomainEvent.objects.filter(merchant=merchant_a, type="shipment.created").count() == 1


def test_same_tracking_number_again_is_200_with_the_same_shipment(api_client_a, order):
    body = {"carrier": "ups", "tracking_number": "1Z999AA10123456784"}
    first = api_client_a.post(SHIP, body, format="json")
    again = api_client_a.post(SHIP, body, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert DomainEvent.objects.filter(type="shipment.created").count() == 1


def test_over_shipping_a_line_is_400_on_its_quantity(api_client_a, order):
    response = api_client_a.post(
        SHIP,
        {
            "carrier": "ups",
            "tracking_number": "1Z12345",
            "lines": [{"order_line": "line-2", "quantity": 2}],
        },
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "line_over_shipped"
    assert "lines.0.quantity" in error["fields"]


def test_unknown_line_and_zero_quantity(api_client_a, order):
    response = api_client_a.post(
        SHIP,
        {
            "carrier": "ups",
            "tracking_number": "1Z12345",
            "lines": [
                {"order_line": "nope", "quantity": 1},
                {"order_line": "line-1", "quantity": 0},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "lines.1.quantity" in response.json()["error"]["fields"]
    response = api_client_a.post(
        SHIP,
        {
            "carrier": "ups",
            "tracking_number": "1Z12345",
            "lines": [{"order_line": "nope", "quantity": 1}],
        },
        format="json",
    )
    assert response.json()["error"]["fields"] == {
        "lines.0.order_line": ["This order has no line 'nope'."]
    }


def test_bad_destination_country(api_client_a, order):
    response = api_client_a.post(
        SHIP,
        {"carrier": "ups", "tracking_number": "1Z12345", "destination": {"country": "ZZ"}},
        format="json",
    )
    assert response.status_code == 400
    assert "destination.country" in response.json()["error"]["fields"]


def test_list_filters(api_client_a, merchant_a):
    order = OrderFactory(merchant=merchant_a, external_id="o-1")
    ShipmentFactory(order=order, carrier="ups", tracking_number="1ZAAA1", status="delivered")
    ShipmentFactory(order=order, carrier="fedex", tracking_number="777000111")
    ShipmentFactory(order__merchant=merchant_a, carrier="ups", tracking_number="1ZBBB2")

    def numbers(query: str) -> list[str]:
        response = api_client_a.get(f"/api/v1/shipments/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(s["tracking_number"] for s in response.json()["results"])

    assert numbers("carrier=UPS") == ["1ZAAA1", "1ZBBB2"]
    assert numbers("status=delivered") == ["1ZAAA1"]
    assert numbers("order=o-1") == ["1ZAAA1", "777000111"]
    assert numbers("tracking_number=1zaaa1") == ["1ZAAA1"]


def test_list_query_count_is_pinned(api_client_a, merchant_a, django_assert_max_num_queries):
    from tracking.models import ShipmentLine

    for _ in range(15):
        line = OrderLineFactory(order__merchant=merchant_a)
        shipment = ShipmentFactory(order=line.order)
        ShipmentLine.objects.create(
            merchant=merchant_a, shipment=shipment, order_line=line, quantity=1
        )
    api_client_a.get("/api/v1/shipments/")
    # key lookup, shipments with orders, their lines with order lines
    with django_assert_max_num_queries(3):
        response = api_client_a.get("/api/v1/shipments/")
    assert len(response.json()["results"]) == 15
    assert all(len(s["lines"]) == 1 for s in response.json()["results"])
