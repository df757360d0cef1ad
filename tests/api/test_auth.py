"""Bearer API keys on the API: missing, wrong, revoked, inactive merchant, and scopes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from postpurchase.api_keys import api_key_revoke
from postpurchase.models import ApiKey, Merchant

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/v1/orders/"),
    ("post", "/api/v1/orders/"),
    ("get", "/api/v1/orders/x/"),
    ("post", "/api/v1/orders/x/cancel/"),
    ("post", "/api/v1/orders/x/shipments/"),
    ("get", "/api/v1/customers/"),
    ("get", "/api/v1/customers/x/"),
    ("get", "/api/v1/products/"),
    ("post", "/api/v1/products/"),
    ("get", "/api/v1/products/x/"),
    ("get", "/api/v1/shipments/"),
    ("get", "/api/v1/shipments/x/"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_every_route_needs_a_key(method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_wrong_secret_with_a_real_prefix_is_401(api_key_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_a.prefix}_not-the-secret")
    response = client.get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_invalid"


def test_malformed_header_is_401(api_key_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_a.secret}")
    assert client.get("/api/v1/orders/").status_code == 401


def test_revoked_key_is_refused_at_once(api_client_a, api_key_a):
    assert api_client_a.get("/api/v1/orders/").status_code == 200
    api_key_revoke(api_key=api_key_a)
    response = api_client_a.get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


def test_inactive_merchant_key_is_refused(api_client_a, merchant_a):
    Merchant.objects.filter(pk=merchant_a.pk).update(is_active=False)
    assert api_client_a.get("/api/v1/orders/").status_code == 401


def test_use_stamps_last_used(api_client_a, api_key_a):
    assert ApiKey.objects.get(pk=api_key_a.pk).last_used_at is None
    api_client_a.get("/api/v1/orders/")
    assert ApiKey.objects.get(pk=api_key_a.pk).last_used_at is not None


@pytest.mark.parametrize(
    ("scopes", "method", "url", "allowed"),
    [
        (["orders:read"], "get", "/api/v1/orders/", True),
        (["orders:read"], "post", "/api/v1/orders/", False),
        (["orders:write"], "get", "/api/v1/orders/", False),
        (["orders:read"], "get", "/api/v1/customers/", True),
        (["shipments:read"], "get", "/api/v1/customers/", False),
        (["shipments:read"], "get", "/api/v1/shipments/", True),
        (["orders:read", "orders:write"], "get", "/api/v1/shipments/", False),
        (["orders:write"], "post", "/api/v1/orders/x/shipments/", False),
        (["orders:read"], "post", "/api/v1/orders/x/cancel/", False),
    ],
)
def test_scopes(api_client_with_scopes, scopes, method, url, allowed):
    response = getattr(api_client_with_scopes(*scopes), method)(url, {}, format="json")
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "scope_missing"


def test_write_scope_lets_a_shipment_through_to_validation(api_client_with_scopes):
    client = api_client_with_scopes("shipments:write")
    # Past the scope check, the order lookup answers (404 here: there is no such order).
    assert client.post("/api/v1/orders/x/shipments/", {}, format="json").status_code == 404


def test_throttle_per_key(api_client_a, api_client_b, settings):
    from postpurchase.api.throttling import ApiKeyRateThrottle

    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "api_key": "3/min"}
    original = ApiKeyRateThrottle.THROTTLE_RATES
    ApiKeyRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [api_client_a.get("/api/v1/orders/").status_code for _ in range(4)]
        other = api_client_b.get("/api/v1/orders/").status_code
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = original
    assert codes == [200, 200, 200, 429]
    assert other == 200  # another key has its own budget
