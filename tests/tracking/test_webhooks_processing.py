"""From a verified webhook to the shipment's timeline: stored once, processed after commit."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from postpurchase.models import DomainEvent
from tests.factories import ShipmentFactory
from tests.tracking.ingest_helpers import published
from tracking.domain import ShipmentStatus
from tracking.ingest import inbound_webhook_replay, webhooks_process_batch, webhooks_release_stuck
from tracking.models import InboundWebhook, InboundWebhookState, TrackingEvent
from tracking.webhooks import easypost, generic
from tracking.webhooks.secrets import forget_cached, webhook_secret_add

SECRET = "generic-secret-0123456789"
NUMBER = "1Z999AA10123456784"


@pytest.fixture(autouse=True)
def _fresh_secret_cache():
    forget_cached()
    yield
    forget_cached()


def generic_body(event_id: str, *events: tuple[str, str, str], number: str = NUMBER) -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "carrier": "ups",
            "tracking_number": number,
            "events": [
                {
                    "occurred_at": at,
                    "status": status,
                    "code": code,
                    "text": f"{status} scan",
                    "location": {"city": "Louisville", "region": "KY", "country": "US"},
                }
                for at, status, code in events
            ],
        }
    ).encode()


def send(client, body: bytes, *, slug: str = "aurora", source: str = "generic", headers=None):
    signed = headers or generic.sign(body, SECRET)
    return client.post(
        f"/webhooks/{source}/{slug}/", data=body, content_type="application/json", headers=signed
    )


@pytest.fixture
def shipment(merchant_a):
    webhook_secret_add(merchant=merchant_a, source="generic", secret=SECRET)
    return ShipmentFactory(order__merchant=merchant_a, carrier="ups", tracking_number=NUMBER)


IN_TRANSIT = ("2026-11-22T08:00:00+00:00", "in_transit", "AR")
OUT = ("2026-11-23T07:10:00+00:00", "out_for_delivery", "OT")
DELIVERED = ("2026-11-23T15:00:00+00:00", "delivered", "D")


@pytest.mark.django_db(transaction=True)
def test_webhook_is_processed_after_commit_into_the_timeline(client, shipment):
    response = send(client, generic_body("evt-1", IN_TRANSIT, OUT))
    assert response.status_code == 202
    hook = InboundWebhook.objects.get()
    assert (hook.state, hook.events_new, hook.attempts) == (InboundWebhookState.PROCESSED, 2, 1)
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.OUT_FOR_DELIVERY
    assert published()["shipment.out_for_delivery"] == 1
    assert hook.processed_at is not None


@pytest.mark.django_db(transaction=True)
def test_duplicate_delivery_is_acknowledged_with_no_second_effect(client, shipment):
    body = generic_body("evt-1", IN_TRANSIT)
    assert send(client, body).status_code == 202
    before = (published(), TrackingEvent.objects.count())
    again = send(client, body)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert (published(), TrackingEvent.objects.count()) == before
    assert InboundWebhook.objects.get().deliveries == 2


@pytest.mark.django_db(transaction=True)
def test_out_of_order_webhooks_end_in_the_latest_carrier_status(client, shipment):
    send(client, generic_body("evt-late", DELIVERED))
    send(client, generic_body("evt-early", IN_TRANSIT, OUT))
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3
    assert published()["shipment.delivered"] == 1
    assert published()["shipment.out_for_delivery"] == 0


@pytest.mark.django_db(transaction=True)
def test_resent_history_under_a_new_event_id_is_marked_nothing_new(client, shipment):
    send(client, generic_body("evt-1", IN_TRANSIT))
    send(client, generic_body("evt-2", IN_TRANSIT))
    states = dict(InboundWebhook.objects.values_list("unique_key", "state"))
    assert states == {"evt-1": "processed", "evt-2": "duplicate"}


@pytest.mark.django_db(transaction=True)
def test_malformed_body_is_stored_failed_with_reason_and_replay_fails_again(client, shipment):
    body = b'{"event_id": "evt-9", "carrier": "ups", '
    assert send(client, body).status_code == 202
    hook = InboundWebhook.objects.get()
    assert hook.state == InboundWebhookState.FAILED
    assert hook.error.startswith("body is not JSON")
    assert bytes(hook.body) == body
    inbound_webhook_replay(webhook=hook)
    hook.refresh_from_db()
    assert (hook.state, hook.attempts) == (InboundWebhookState.FAILED, 2)


@pytest.mark.django_db(transaction=True)
def test_invalid_event_names_the_field(client, shipment):
    send(client, generic_body("evt-3", ("2026-11-22T08:00:00", "in_transit", "AR")))
    hook = InboundWebhook.objects.get()
    assert hook.state == InboundWebhookState.FAILED
    assert "occurred_at" in hook.error


@pytest.mark.django_db(transaction=True)
def test_unknown_shipment_fails_then_replays_once_the_shipment_exists(client, merchant_a):
    webhook_secret_add(merchant=merchant_a, source="generic", secret=SECRET)
    send(client, generic_body("evt-1", IN_TRANSIT))
    hook = InboundWebhook.objects.get()
    assert hook.state == InboundWebhookState.FAILED
    assert "unknown shipment" in hook.error
    assert NUMBER in hook.error
    shipment = ShipmentFactory(order__merchant=merchant_a, carrier="ups", tracking_number=NUMBER)
    inbound_webhook_replay(webhook=hook)
    hook.refresh_from_db()
    assert (hook.state, hook.error) == (InboundWebhookState.PROCESSED, "")
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 1


@pytest.mark.django_db(transaction=True)
def test_recycled_number_goes_to_the_shipment_of_the_right_ship_date(client, merchant_a):
    webhook_secret_add(merchant=merchant_a, source="generic", secret=SECRET)
    old = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="ups",
        tracking_number=NUMBER,
        shipped_at=datetime(2024, 5, 1, tzinfo=UTC),
    )
    new = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="ups",
        tracking_number=NUMBER,
        shipped_at=datetime(2026, 11, 21, tzinfo=UTC),
    )
    send(client, generic_body("evt-1", IN_TRANSIT))
    assert list(TrackingEvent.objects.values_list("shipment", flat=True)) == [new.pk]
    old.refresh_from_db()
    assert old.status == ShipmentStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_same_number_at_another_merchant_is_untouched(client, shipment, merchant_b):
    webhook_secret_add(merchant=merchant_b, source="generic", secret=SECRET)
    theirs = ShipmentFactory(order__merchant=merchant_b, carrier="ups", tracking_number=NUMBER)
    send(client, generic_body("evt-1", DELIVERED), slug="aurora-jp")
    shipment.refresh_from_db()
    theirs.refresh_from_db()
    assert (shipment.status, theirs.status) == (ShipmentStatus.PENDING, ShipmentStatus.DELIVERED)
    assert published(shipment.merchant)["shipment.delivered"] == 0


@pytest.mark.django_db(transaction=True)
def test_easypost_tracker_updated_is_recorded(client, merchant_a):
    webhook_secret_add(merchant=merchant_a, source="easypost", secret=SECRET)
    shipment = ShipmentFactory(
        order__merchant=merchant_a, carrier="fedex", tracking_number="794600000001"
    )
    detail = {
        "object": "TrackingDetail",
        "message": "Arrived at FedEx location",
        "status": "in_transit",
        "status_detail": "arrived_at_facility",
        "datetime": "2026-11-22T18:50:00Z",
        "source": "FedEx",
        "carrier_code": "AR",
        "tracking_location": {"city": "EDISON", "state": "NJ", "country": "US", "zip": "08817"},
    }
    body = json.dumps(
        {
            "object": "Event",
            "id": "evt_ep_1",
            "description": "tracker.updated",
            "result": {
                "object": "Tracker",
                "id": "trk_1",
                "tracking_code": "794600000001",
                "carrier": "FedEx",
                "status": "in_transit",
                "tracking_details": [detail],
            },
        }
    ).encode()
    response = send(client, body, source="easypost", headers=easypost.sign(body, SECRET))
    assert response.status_code == 202
    hook = InboundWebhook.objects.get()
    assert (hook.unique_key, hook.topic, hook.state) == ("evt_ep_1", "tracker.updated", "processed")
    event = TrackingEvent.objects.get(shipment=shipment)
    assert (event.city, event.postcode, event.status) == ("EDISON", "08817", "in_transit")
    assert event.occurred_at == datetime(2026, 11, 22, 18, 50, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_worker_that_died_mid_batch_has_its_webhooks_released(client, shipment, monkeypatch):
    monkeypatch.setattr("tracking.ingest.schedule_processing", lambda: None)
    send(client, generic_body("evt-1", IN_TRANSIT))
    InboundWebhook.objects.update(
        state=InboundWebhookState.PROCESSING, claimed_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert webhooks_process_batch().claimed == 0
    assert webhooks_release_stuck() == 1
    outcome = webhooks_process_batch()
    assert (outcome.claimed, outcome.processed, outcome.events_new) == (1, 1, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_same_webhook_ten_times_concurrently_gives_one_event_and_one_domain_event(merchant_a):
    from django.test import Client

    webhook_secret_add(merchant=merchant_a, source="generic", secret=SECRET)
    shipment = ShipmentFactory(order__merchant=merchant_a, carrier="ups", tracking_number=NUMBER)
    body = generic_body("evt-burst", IN_TRANSIT, OUT)
    headers = generic.sign(body, SECRET)
    start = threading.Barrier(10)
    statuses: list[int] = []

    def deliver() -> None:
        try:
            start.wait()
            statuses.append(send(Client(), body, headers=headers).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 9 + [202]
    hook = InboundWebhook.objects.get()
    assert (hook.deliveries, hook.state) == (10, InboundWebhookState.PROCESSED)
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 2
    types = list(DomainEvent.objects.values_list("type", flat=True))
    assert types.count("shipment.out_for_delivery") == 1
    assert types.count("shipment.status_changed") == 1
    assert types.count("shipment.events_recorded") == 1


@pytest.mark.django_db(transaction=True)
def test_topics_without_scans_are_acknowledged_and_kept(client, merchant_a):
    webhook_secret_add(merchant=merchant_a, source="easypost", secret=SECRET)
    body = json.dumps({"object": "Event", "id": "evt_b1", "description": "batch.updated"}).encode()
    response = send(client, body, source="easypost", headers=easypost.sign(body, SECRET))
    assert response.status_code == 202
    hook = InboundWebhook.objects.get()
    assert (hook.topic, hook.state, hook.error) == ("batch.updated", "duplicate", "")


def test_processing_requests_are_debounced_with_a_trailing_run(settings, monkeypatch):
    import time_machine

    from tracking import ingest
    from tracking.tasks import webhook_process

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(ingest, "_covered_until", 0.0)
    sent: list[dict] = []
    monkeypatch.setattr(webhook_process, "apply_async", lambda **kw: sent.append(kw))
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False) as clock:
        for _ in range(50):
            ingest.schedule_processing()
        # A leading run now and a trailing one when the window closes; the rest ride on them.
        assert sent == [{}, {"countdown": ingest.PROCESSING_DEBOUNCE_SECONDS}]
        clock.shift(ingest.PROCESSING_DEBOUNCE_SECONDS + 0.1)
        from django.core.cache import cache

        cache.delete(ingest.PROCESSING_PENDING_KEY)  # the window's key has expired
        ingest.schedule_processing()
    assert len(sent) == 4


@pytest.mark.django_db(transaction=True)
def test_a_webhook_that_keeps_losing_its_worker_is_failed_not_retried_forever(client, shipment):
    from tracking.ingest import MAX_ATTEMPTS

    InboundWebhook.objects.create(
        merchant=shipment.merchant,
        source="generic",
        unique_key="evt-poison",
        body=b"{}",
        state=InboundWebhookState.PROCESSING,
        attempts=MAX_ATTEMPTS,
        claimed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert webhooks_release_stuck() == 0
    hook = InboundWebhook.objects.get()
    assert hook.state == InboundWebhookState.FAILED
    assert "gave up after" in hook.error


@pytest.mark.django_db(transaction=True)
def test_non_numeric_shopify_quantity_fails_with_the_field_named(client, merchant_a):
    from tracking.webhooks import shopify

    webhook_secret_add(merchant=merchant_a, source="shopify", secret=SECRET)
    body = json.dumps(
        {
            "id": 1,
            "name": "#1",
            "created_at": "2026-11-20T10:00:00+00:00",
            "currency": "USD",
            "line_items": [{"id": 5, "sku": "A", "quantity": "many", "price": "1"}],
        }
    ).encode()
    headers = shopify.sign(body, SECRET, topic="orders/create", webhook_id="wh-odd")
    assert send(client, body, source="shopify", headers=headers).status_code == 202
    hook = InboundWebhook.objects.get()
    assert hook.state == InboundWebhookState.FAILED
    assert hook.error == "line_items.0.quantity is not a whole number: 'many'"
