"""Every API route, called with merchant_a's key on merchant_b's look-alike data: 404 or absent."""

from __future__ import annotations

import pytest

from commerce.models import Order
from tests.api import payloads
from tracking.models import Shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def both_stores(api_client_a, api_client_b):
    """Order "1001" (same external id, same customer id) and one shipment in each merchant."""
    for client, body in ((api_client_a, payloads.order()), (api_client_b, payloads.order_jp())):
        assert client.post("/api/v1/orders/", body, format="json").status_code == 201
        created = client.post(
            "/api/v1/orders/gid://shop/Order/1001/shipments/",
            {"carrier": "ups", "tracking_number": "1Z999AA10123456784"},
            format="json",
        )
        assert created.status_code == 201
    a = Shipment.objects.get(merchant__slug="aurora")
    b = Shipment.objects.get(merchant__slug="aurora-jp")
    return a, b


def test_lists_show_only_own_objects(api_client_a, both_stores, merchant_a):
    own_shipment, _ = both_stores
    orders = api_client_a.get("/api/v1/orders/").json()["results"]
    assert [(o["number"], o["currency"]) for o in orders] == [("1001", "USD")]
    customers = api_client_a.get("/api/v1/customers/").json()["results"]
    assert [c["phone"] for c in customers] == ["+14155550123"]
    shipments = api_client_a.get("/api/v1/shipments/").json()["results"]
    assert [s["id"] for s in shipments] == [own_shipment.public_id]
    # Filters cannot reach across either.
    by_number = api_client_a.get("/api/v1/shipments/?tracking_number=1Z999AA10123456784")
    assert len(by_number.json()["results"]) == 1
    assert api_client_a.get("/api/v1/orders/?currency=JPY").json()["results"][0]["currency"] == (
        "USD"
    )


def test_another_merchants_shipment_is_404(api_client_a, both_stores):
    own, theirs = both_stores
    assert api_client_a.get(f"/api/v1/shipments/{own.public_id}/").status_code == 200
    response = api_client_a.get(f"/api/v1/shipments/{theirs.public_id}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "shipment_not_found"


def test_same_external_ids_resolve_to_own_objects(api_client_a, api_client_b, both_stores):
    a = api_client_a.get("/api/v1/orders/gid://shop/Order/1001/").json()
    b = api_client_b.get("/api/v1/orders/gid://shop/Order/1001/").json()
    assert a["currency"] == "USD"
    assert b["currency"] == "JPY"
    assert api_client_a.get("/api/v1/customers/cust-1/").json()["phone"] == "+14155550123"
    assert api_client_b.get("/api/v1/customers/cust-1/").json()["phone"] == "+819012345678"


def test_writes_cannot_touch_another_merchants_order(api_client_a, api_client_b, merchant_b):
    api_client_b.post("/api/v1/orders/", payloads.order_jp(external_id="jp-only"), format="json")
    for url, body in (
        ("/api/v1/orders/jp-only/", None),
        ("/api/v1/orders/jp-only/cancel/", {}),
        ("/api/v1/orders/jp-only/shipments/", {"carrier": "ups", "tracking_number": "1Z12345"}),
    ):
        response = (
            api_client_a.get(url) if body is None else api_client_a.post(url, body, format="json")
        )
        assert response.status_code == 404, url
    assert api_client_a.get("/api/v1/customers/cust-1/").status_code == 404
    order = Order.objects.get(merchant=merchant_b)
    assert order.status == "open"
    assert not Shipment.objects.exists()


def test_upsert_with_same_external_id_creates_own_order(api_client_a, api_client_b, merchant_b):
    api_client_b.post("/api/v1/orders/", payloads.order_jp(), format="json")
    response = api_client_a.post("/api/v1/orders/", payloads.order(), format="json")
    assert response.status_code == 201  # not "updated": B's order is invisible to A
    assert Order.objects.get(merchant=merchant_b).currency == "JPY"


def test_customer_list_query_count_is_pinned(
    api_client_a, merchant_a, django_assert_max_num_queries
):
    from tests.factories import CustomerFactory

    CustomerFactory.create_batch(25, merchant=merchant_a)
    api_client_a.get("/api/v1/customers/")
    with django_assert_max_num_queries(2):  # key lookup, customers
        response = api_client_a.get("/api/v1/customers/")
    assert len(response.json()["results"]) == 25


def _integer_ids(value, path=""):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        for key, item in value.items():
            if (key == "id" or key.endswith("_id")) and isinstance(item, int):
                yield f"{path}.{key}"
            yield from _integer_ids(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _integer_ids(item, f"{path}.{i}")


def test_no_internal_integer_id_in_any_answer(api_client_a, both_stores):
    own, _ = both_stores
    urls = [
        "/api/v1/orders/",
        "/api/v1/orders/gid://shop/Order/1001/",
        "/api/v1/customers/",
        "/api/v1/customers/cust-1/",
        "/api/v1/shipments/",
        f"/api/v1/shipments/{own.public_id}/",
    ]
    for url in urls:
        response = api_client_a.get(url)
        assert response.status_code == 200, url
        assert list(_integer_ids(response.json())) == [], url
    assert own.public_id != str(own.pk)
