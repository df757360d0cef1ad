"""Idempotency-Key on POST: replay, misuse, in-flight, and no stored answer for failures."""

from __future__ import annotations

import pytest

from commerce.models import Order
from postpurchase.idempotency import idempotency_claim, request_fingerprint
from postpurchase.models import DomainEvent, IdempotencyRecord
from tests.api import payloads

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def post(client, body, key, url=ORDERS):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_same_body_replays_the_first_answer(api_client_a, merchant_a):
    first = post(api_client_a, payloads.order(), "k-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    Order.objects.update(shipping_method="changed behind the API's back")
    again = post(api_client_a, payloads.order(), "k-1")
    assert again.status_code == 201  # the stored answer, not a fresh 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert DomainEvent.objects.filter(merchant=merchant_a).count() == 1


def test_key_order_of_json_does_not_matter(api_client_a):
    body = payloads.order()
    post(api_client_a, body, "k-2")
    reordered = dict(reversed(list(body.items())))
    assert post(api_client_a, reordered, "k-2")["Idempotent-Replayed"] == "true"


def test_same_key_different_body_is_422(api_client_a):
    post(api_client_a, payloads.order(), "k-3")
    response = post(api_client_a, payloads.order(shipping_method="express"), "k-3")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.get().shipping_method == ""


def test_same_key_on_another_endpoint_is_422(api_client_a):
    post(api_client_a, payloads.order(), "k-4")
    response = post(api_client_a, payloads.order(), "k-4", url=f"{ORDERS}x/cancel/")
    assert response.status_code == 422


def test_keys_are_per_merchant(api_client_a, api_client_b):
    assert post(api_client_a, payloads.order(), "shared").status_code == 201
    response = post(api_client_b, payloads.order_jp(), "shared")
    assert response.status_code == 201
    assert response.json()["currency"] == "JPY"


def test_request_in_flight_is_409(api_client_a, merchant_a):
    body = payloads.order()
    idempotency_claim(
        merchant=merchant_a,
        key="k-5",
        method="POST",
        path=ORDERS,
        fingerprint=request_fingerprint(method="POST", path=ORDERS, body=body),
    )
    response = post(api_client_a, body, "k-5")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_flight"
    assert Order.objects.count() == 0


def test_validation_error_is_replayed_too(api_client_a):
    bad = payloads.order(currency="XYZ")
    first = post(api_client_a, bad, "k-6")
    assert first.status_code == 400
    again = post(api_client_a, bad, "k-6")
    assert again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"


def test_crash_frees_the_key(api_client_a, monkeypatch):
    from commerce import services

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "order_upsert", boom)
    api_client_a.raise_request_exception = False
    assert post(api_client_a, payloads.order(), "k-7").status_code == 500
    assert not IdempotencyRecord.objects.filter(key="k-7").exists()
    monkeypatch.undo()
    assert post(api_client_a, payloads.order(), "k-7").status_code == 201


def test_overlong_key_is_400(api_client_a):
    response = post(api_client_a, payloads.order(), "k" * 300)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert Order.objects.count() == 0


def test_expired_key_runs_again(api_client_a, settings):
    from datetime import timedelta

    post(api_client_a, payloads.order(), "k-8")
    IdempotencyRecord.objects.update(created_at="2020-01-01T00:00:00Z")
    settings.IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
    again = post(api_client_a, payloads.order(), "k-8")
    assert again.status_code == 200  # ran for real: the order already existed
    assert "Idempotent-Replayed" not in again


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_with_one_key_run_once(api_key_a, merchant_a):
    """Both requests race to claim the key: one runs, the other is told it is in flight (409)
    or, if it arrives after the first finished, gets the replay. Never two orders."""
    import threading

    from django.db import connection
    from rest_framework.test import APIClient

    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def run() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_a.secret}")
        try:
            barrier.wait(timeout=10)
            statuses.append(post(client, payloads.order(), "race-1").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(statuses) in ([201, 409], [201, 201])
    assert Order.objects.filter(merchant=merchant_a).count() == 1
    assert DomainEvent.objects.filter(merchant=merchant_a).count() == 1
    record = IdempotencyRecord.objects.get(merchant=merchant_a, key="race-1")
    assert record.status_code == 201


def test_purge_task_deletes_only_expired_records(api_client_a, merchant_a):
    from postpurchase.tasks import idempotency_purge

    post(api_client_a, payloads.order(), "old")
    post(api_client_a, payloads.order(), "fresh")
    IdempotencyRecord.objects.filter(key="old").update(created_at="2020-01-01T00:00:00Z")
    assert idempotency_purge.delay().get() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
