"""Ops screens of carrier events in: failed webhooks with reasons and replay, timelines, counts."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

import tracking.admin_ingest  # noqa: F401 - registers the screens on the ops site
from tests.factories import ShipmentFactory
from tests.tracking.ingest_helpers import scan
from tracking.domain import ShipmentStatus
from tracking.models import InboundWebhook, InboundWebhookState, UnmappedCarrierCode, WebhookSecret
from tracking.normalisation import shipment_record_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_client(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-0123456789")
    client.force_login(user)
    return client


@pytest.fixture
def failed_hook(merchant_a):
    return InboundWebhook.objects.create(
        merchant=merchant_a,
        source="generic",
        unique_key="evt-broken",
        body=b"{not json",
        state=InboundWebhookState.FAILED,
        error="body is not JSON: Expecting property name",
    )


def test_failed_webhooks_are_listed_first_with_their_reason(ops_client, failed_hook, merchant_a):
    InboundWebhook.objects.create(
        merchant=merchant_a, source="generic", unique_key="evt-ok", body=b"{}", state="processed"
    )
    page = ops_client.get("/ops/tracking/inboundwebhook/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "body is not JSON" in html
    assert "By source" in html
    detail = ops_client.get(f"/ops/tracking/inboundwebhook/{failed_hook.pk}/change/")
    assert detail.status_code == 200
    assert "{not json" in detail.content.decode()


def test_replay_action_puts_the_webhook_back_in_the_queue(
    ops_client, failed_hook, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = ops_client.post(
            "/ops/tracking/inboundwebhook/?state=failed",
            {"action": "replay", "_selected_action": [failed_hook.pk]},
            follow=True,
        )
    assert response.status_code == 200
    failed_hook.refresh_from_db()
    assert (failed_hook.state, failed_hook.error) == (InboundWebhookState.RECEIVED, "")
    assert [c.__name__ for c in callbacks] == ["schedule_processing"]


def test_shipment_timeline_and_per_carrier_counts(ops_client, merchant_a):
    shipment = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
    shipment_record_events(
        shipment=shipment,
        events=[
            scan(shipment, "2026-11-21T10:00", ShipmentStatus.IN_TRANSIT, city="Louisville"),
            scan(shipment, "2026-11-22T10:00", ShipmentStatus.IN_TRANSIT, code="Q7", mapped=False),
        ],
    )
    listing = ops_client.get("/ops/tracking/shipment/").content.decode()
    assert "Shipments by carrier" in listing
    detail = ops_client.get(f"/ops/tracking/shipment/{shipment.pk}/change/").content.decode()
    assert "Louisville" in detail
    assert "Q7" in detail
    assert UnmappedCarrierCode.objects.get().occurrences == 1
    assert ops_client.get("/ops/tracking/unmappedcarriercode/").status_code == 200


def test_webhook_secret_is_added_encrypted_and_never_shown(ops_client, merchant_a):
    response = ops_client.post(
        "/ops/tracking/webhooksecret/add/",
        {
            "merchant": merchant_a.pk,
            "source": "easypost",
            "label": "prod",
            "secret": "x" * 20 + "WXYZ",
        },
        follow=True,
    )
    assert response.status_code == 200
    row = WebhookSecret.objects.get()
    assert (row.hint, row.label) == ("WXYZ", "prod")
    assert "x" * 20 not in row.encrypted_secret
    page = ops_client.get(f"/ops/tracking/webhooksecret/{row.pk}/change/").content.decode()
    assert "x" * 20 not in page


def test_cross_source_matches_are_counted_and_shown_in_the_timeline(ops_client, merchant_a):
    from datetime import UTC, datetime

    from tracking.models import ScanOrigin
    from tracking.normalisation import ShipmentEvents, shipments_record_events

    shipment = ShipmentFactory(order__merchant=merchant_a, carrier="usps")
    at = datetime(2026, 11, 22, 14, 10, tzinfo=UTC)
    aggregator = scan(shipment, at.isoformat(), ShipmentStatus.OUT_FOR_DELIVERY, "OFD_AS")
    carrier = scan(shipment, at.isoformat(), ShipmentStatus.OUT_FOR_DELIVERY, "OF")
    shipments_record_events(
        batch=[ShipmentEvents(shipment, [aggregator], "webhook", ScanOrigin.AGGREGATOR)]
    )
    listing = ops_client.get("/ops/tracking/shipment/").content.decode()
    assert "Cross-source matches per carrier" in listing
    assert "None yet." in listing
    shipments_record_events(batch=[ShipmentEvents(shipment, [carrier], "poll", ScanOrigin.CARRIER)])
    listing = ops_client.get("/ops/tracking/shipment/").content.decode()
    assert "None yet." not in listing
    assert '<td class="px-3 py-1">usps</td><td class="px-3 py-1">1</td>' in listing
    detail = ops_client.get(f"/ops/tracking/shipment/{shipment.pk}/change/").content.decode()
    assert "OFD_AS" in detail
    assert "Aggregator" in detail
