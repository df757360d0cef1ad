"""POST/GET /api/v1/orders/: upsert, field-level errors, filtering, pagination, query counts."""

from __future__ import annotations

import pytest

from commerce.models import Order
from postpurchase.models import DomainEvent
from tests.api import payloads
from tests.factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def test_upsert_creates_then_retry_changes_nothing(api_client_a, merchant_a):
    first = api_client_a.post(ORDERS, payloads.order(), format="json")
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["external_id"] == "gid://shop/Order/1001"
    assert body["number"] == "1001"
    assert body["total"] == "66.50"
    assert body["customer"]["email"] == "alice@example.com"
    assert [line["external_id"] for line in body["lines"]] == ["line-1", "line-2"]
    assert "id" not in body
    assert "id" not in body["customer"]

    retry = api_client_a.post(ORDERS, payloads.order(), format="json")
    assert retry.status_code == 200
    assert retry.json() == body
    assert Order.objects.for_merchant(merchant_a).count() == 1
    assert DomainEvent.objects.filter(merchant=merchant_a).count() == 1


def test_changed_payload_updates_with_200_and_order_updated(api_client_a, merchant_a):
    api_client_a.post(ORDERS, payloads.order(), format="json")
    response = api_client_a.post(ORDERS, payloads.order(shipping_method="express"), format="json")
    assert response.status_code == 200
    assert response.json()["shipping_method"] == "express"
    assert DomainEvent.objects.filter(merchant=merchant_a, type="order.updated").count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"customer": {"email": "a@example.com", "phone": "12"}}, "customer.phone"),
        ({"shipping_address": {"country": "QQ"}}, "shipping_address.country"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"lines": []}, "lines"),
    ],
)
def test_bad_fields_are_reported_by_dotted_path(api_client_a, change, field):
    response = api_client_a.post(ORDERS, payloads.order(**change), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["fields"], error
    assert error["fields"][field][0]
    assert Order.objects.count() == 0


def test_negative_quantity_points_at_the_line(api_client_a):
    body = payloads.order()
    body["lines"][1]["quantity"] = -3
    error = api_client_a.post(ORDERS, body, format="json").json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["lines.1.quantity"]


def test_fractional_yen_is_refused(api_client_b):
    body = payloads.order_jp()
    body["lines"][0]["unit_price"] = "1800.50"
    response = api_client_b.post(ORDERS, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "lines.0.unit_price": ["JPY has no minor unit: use a whole amount."]
    }


def test_unknown_product_reference(api_client_a):
    body = payloads.order()
    del body["lines"][0]["title"]
    response = api_client_a.post(ORDERS, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_product"
    assert "SOCK-1" in error["fields"]["lines.0.sku"][0]


def test_missing_required_fields_listed_together(api_client_a):
    response = api_client_a.post(ORDERS, {"lines": [{"sku": "X"}]}, format="json")
    fields = response.json()["error"]["fields"]
    assert response.status_code == 400
    assert {"external_id", "number", "currency", "lines.0.quantity", "lines.0.external_id"} <= set(
        fields
    )


def test_order_number_held_by_another_order_is_422(api_client_a):
    api_client_a.post(ORDERS, payloads.order(), format="json")
    response = api_client_a.post(ORDERS, payloads.order(external_id="other"), format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "order_number_taken"
    assert "number" in response.json()["error"]["fields"]


def test_retrieve_by_external_id_with_slashes(api_client_a):
    api_client_a.post(ORDERS, payloads.order(), format="json")
    response = api_client_a.get(f"{ORDERS}gid://shop/Order/1001/")
    assert response.status_code == 200
    assert response.json()["number"] == "1001"
    encoded = api_client_a.get(f"{ORDERS}gid%3A%2F%2Fshop%2FOrder%2F1001/")
    assert encoded.status_code == 200


def test_cancel(api_client_a, merchant_a):
    api_client_a.post(ORDERS, payloads.order(), format="json")
    response = api_client_a.post(
        f"{ORDERS}gid://shop/Order/1001/cancel/", {"reason": "fraud"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    event = DomainEvent.objects.get(merchant=merchant_a, type="order.cancelled")
    assert event.data["reason"] == "fraud"


def test_filters(api_client_a, merchant_a):
    OrderFactory(merchant=merchant_a, number="1", customer__email="x@example.com")
    OrderFactory(merchant=merchant_a, number="2", status="cancelled")
    late = OrderFactory(merchant=merchant_a, number="3")
    Order.objects.filter(pk=late.pk).update(placed_at="2026-12-24T00:00:00Z")

    def numbers(query: str) -> list[str]:
        response = api_client_a.get(f"{ORDERS}?{query}")
        assert response.status_code == 200, response.json()
        return sorted(o["number"] for o in response.json()["results"])

    assert numbers("status=cancelled") == ["2"]
    assert numbers("email=X@example.com") == ["1"]
    assert numbers("placed_after=2026-12-01T00:00:00Z") == ["3"]
    assert numbers("placed_before=2026-12-01T00:00:00Z") == ["1", "2"]
    assert numbers("number=2") == ["2"]
    bad = api_client_a.get(f"{ORDERS}?status=lost")
    assert bad.status_code == 400
    assert "status" in bad.json()["error"]["fields"]


def test_cursor_pagination_walks_every_order_once(api_client_a, merchant_a):
    for n in range(7):
        OrderFactory(merchant=merchant_a, number=f"P{n}")
    seen: list[str] = []
    url: str | None = f"{ORDERS}?page_size=3"
    pages = 0
    while url:
        body = api_client_a.get(url).json()
        seen += [o["number"] for o in body["results"]]
        url = body["next"]
        pages += 1
        assert "cursor=" in (url or "cursor=")
    assert pages == 3
    assert sorted(seen) == sorted(f"P{n}" for n in range(7))


def test_list_query_count_is_pinned(api_client_a, merchant_a, django_assert_max_num_queries):
    for n in range(20):
        order = OrderFactory(merchant=merchant_a, number=f"Q{n}")
        OrderLineFactory(order=order)
        OrderLineFactory(order=order)
    api_client_a.get(ORDERS)  # the key's last-used stamp is written on first use
    # key lookup, orders with customers, their lines
    with django_assert_max_num_queries(3):
        response = api_client_a.get(ORDERS)
    assert len(response.json()["results"]) == 20


def test_mangled_cursor_is_a_400_on_the_cursor(api_client_a):
    response = api_client_a.get(f"{ORDERS}?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_api_address_is_a_json_404(api_client_a, method):
    response = getattr(api_client_a, method)("/api/v1/orders/a%0Ab/cancel/", {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api_client_a.get("/api/v1/nothing-here/").json()["error"]["code"] == "not_found"


def test_extreme_offsets_are_compared_in_utc(api_client_a, merchant_a):
    """PostgreSQL refuses offsets beyond ±15:59; Python and ISO 8601 allow ±23:59."""
    OrderFactory(merchant=merchant_a, number="7")
    response = api_client_a.get(f"{ORDERS}?placed_after=2026-11-20T00:00:00-18:51")
    assert response.status_code == 200
    assert [o["number"] for o in response.json()["results"]] == []  # 18:51 UTC on the 20th
    response = api_client_a.get(f"{ORDERS}?placed_before=9999-12-31T23:00:00-18:00")
    assert response.status_code == 400
    assert "placed_before" in response.json()["error"]["fields"]


def test_order_time_with_extreme_offset_is_stored_in_utc(api_client_a):
    response = api_client_a.post(
        ORDERS, payloads.order(placed_at="2026-11-20T10:00:00-18:30"), format="json"
    )
    assert response.status_code == 201
    assert response.json()["placed_at"] == "2026-11-21T04:30:00Z"


def test_bodies_must_be_json(api_client_a):
    form = api_client_a.post(ORDERS, {"number": "1"}, format="multipart")
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    broken = api_client_a.post(
        ORDERS, b"{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-json"
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "parse_error"
