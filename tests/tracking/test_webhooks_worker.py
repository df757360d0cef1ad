"""A burst of webhooks through a real Celery worker on Redis: every one processed, none twice.

Reuses the worker machinery of tests/integration/test_worker.py (a `celery worker` subprocess on
the test's PostgreSQL database and a queue of its own).
"""

from __future__ import annotations

import json

import pytest

from postpurchase.models import DomainEvent, HandlerRun, HandlerRunState
from tests.factories import ShipmentFactory
from tests.worker_support import Worker, wait_for
from tracking.domain import ShipmentStatus
from tracking.models import InboundWebhook, InboundWebhookState, Shipment, TrackingEvent
from tracking.webhooks import generic
from tracking.webhooks.secrets import forget_cached, webhook_secret_add

pytestmark = [
    pytest.mark.broker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

SECRET = "burst-secret-0123456789"
SHIPMENTS = 20
SCANS_PER_SHIPMENT = 5
STEPS = ["info_received", "in_transit", "in_transit", "out_for_delivery", "delivered"]


def _body(number: str, step: int) -> bytes:
    return json.dumps(
        {
            "event_id": f"{number}-{step}",
            "carrier": "ups",
            "tracking_number": number,
            "events": [
                {
                    "occurred_at": f"2026-11-2{step}T1{step}:00:00+00:00",
                    "status": STEPS[step],
                    "code": f"S{step}",
                    "location": {"city": f"Hub {step}", "country": "US"},
                }
            ],
        }
    ).encode()


@pytest.mark.usefixtures("web_side")
def test_burst_of_webhooks_is_processed_by_the_worker_with_nothing_lost(
    client, merchant_a, worker: Worker
):
    forget_cached()
    webhook_secret_add(merchant=merchant_a, source="generic", secret=SECRET)
    numbers = [f"1Z999AA1{n:010d}" for n in range(SHIPMENTS)]
    for number in numbers:
        ShipmentFactory(order__merchant=merchant_a, carrier="ups", tracking_number=number)
    # Newest scans first for half of the shipments: arrival order must not matter.
    deliveries = [
        (number, step)
        for i, number in enumerate(numbers)
        for step in (range(5) if i % 2 else reversed(range(5)))
    ]
    for number, step in deliveries:
        body = _body(number, step)
        response = client.post(
            f"/webhooks/generic/{merchant_a.slug}/",
            data=body,
            content_type="application/json",
            headers=generic.sign(body, SECRET),
        )
        assert response.status_code == 202
    # A second delivery of a few of them: acknowledged, no second effect.
    for number, step in deliveries[:10]:
        body = _body(number, step)
        response = client.post(
            f"/webhooks/generic/{merchant_a.slug}/",
            data=body,
            content_type="application/json",
            headers=generic.sign(body, SECRET),
        )
        assert response.status_code == 200

    total = SHIPMENTS * SCANS_PER_SHIPMENT
    done = (InboundWebhookState.PROCESSED, InboundWebhookState.DUPLICATE)

    def all_done() -> bool:
        return InboundWebhook.objects.filter(state__in=done).count() == total

    wait_for("the worker to process every webhook", all_done, worker, 90.0)
    assert InboundWebhook.objects.count() == total
    assert not InboundWebhook.objects.filter(state=InboundWebhookState.FAILED).exists()
    assert TrackingEvent.objects.count() == total
    statuses = set(Shipment.objects.values_list("status", flat=True))
    assert statuses == {ShipmentStatus.DELIVERED}
    assert set(InboundWebhook.objects.values_list("attempts", flat=True)) == {1}
    # The batches' domain events reach their handlers too (batch dispatch messages), and the
    # worker is idle before the test's tables are flushed.
    wait_for(
        "every domain event to be dispatched",
        lambda: not DomainEvent.objects.filter(dispatched_at__isnull=True).exists(),
        worker,
        90.0,
    )
    assert not HandlerRun.objects.exclude(state=HandlerRunState.DONE).exists()
