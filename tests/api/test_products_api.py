"""POST/GET /api/v1/products/: catalogue upsert by SKU, so order lines may name SKUs alone."""

from __future__ import annotations

import pytest

from commerce.models import Product
from postpurchase.models import DomainEvent
from tests.api import payloads
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
SOCK = {
    "sku": "SOCK-1",
    "title": "Merino sock",
    "price": "18.00",
    "currency": "USD",
    "category": "Socks",
    "replenishment_days": 90,
}


def test_upsert_creates_then_replays_then_updates(api_client_a, merchant_a):
    created = api_client_a.post(PRODUCTS, SOCK, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["replenishment_days"] == 90
    assert "id" not in created.json()
    again = api_client_a.post(PRODUCTS, SOCK, format="json")
    assert again.status_code == 200
    updated = api_client_a.post(PRODUCTS, {**SOCK, "in_stock": False}, format="json")
    assert updated.status_code == 200
    assert updated.json()["in_stock"] is False
    types = list(DomainEvent.objects.filter(merchant=merchant_a).values_list("type", flat=True))
    assert types == ["product.created", "product.updated"]


def test_order_line_without_title_uses_the_catalogue(api_client_a):
    api_client_a.post(PRODUCTS, SOCK, format="json")
    body = payloads.order()
    del body["lines"][0]["title"]
    response = api_client_a.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["lines"][0]["title"] == "Merino sock"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "YEN"}, "currency"),
        ({"price": "-1.00"}, "price"),
        ({"currency": "JPY", "price": "1800.50"}, "price"),
        ({"replenishment_days": 0}, "replenishment_days"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_fields(api_client_a, change, field):
    response = api_client_a.post(PRODUCTS, {**SOCK, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Product.objects.exists()


def test_tenancy_and_retrieve(api_client_a, merchant_a, merchant_b):
    ProductFactory(merchant=merchant_a, sku="SHARED", title="Ours")
    ProductFactory(merchant=merchant_b, sku="SHARED", title="Theirs")
    ProductFactory(merchant=merchant_b, sku="ONLY-B")
    assert api_client_a.get(f"{PRODUCTS}SHARED/").json()["title"] == "Ours"
    assert api_client_a.get(f"{PRODUCTS}ONLY-B/").status_code == 404
    listed = api_client_a.get(PRODUCTS).json()["results"]
    assert [p["title"] for p in listed] == ["Ours"]


def test_scopes(api_client_with_scopes):
    assert api_client_with_scopes("orders:read").post(
        PRODUCTS, SOCK, format="json"
    ).status_code == (403)
    assert api_client_with_scopes("shipments:read").get(PRODUCTS).status_code == 403
