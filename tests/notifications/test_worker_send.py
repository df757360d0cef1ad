"""Shipment events through a real Celery worker on Redis become one message per channel, sent.

Reuses the worker machinery of tests/integration/test_worker.py (a `celery worker` subprocess on
the test's PostgreSQL database and a queue of its own). The worker sends with the embedded
channels (file email backend, SMS outbox): what is checked is the ledger it writes.
"""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings

from notifications.models import Channel, Message, MessageStatus, MessagingSettings
from postpurchase import outbox
from postpurchase.tasks import events_dispatch
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ShipmentFactory
from tests.worker_support import Worker, wait_for
from tracking.models import ShipmentLine
from tracking.normalisation import shipment_event_data

pytestmark = [
    pytest.mark.broker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.usefixtures("web_side")
def test_out_for_delivery_is_sent_once_per_channel_by_the_worker(merchant_a, worker: Worker):
    # The worker runs on the real clock: no quiet hours, so the result does not depend on it.
    MessagingSettings.objects.create(merchant=merchant_a, quiet_hours_enabled=False)
    customer = CustomerFactory(merchant=merchant_a, first_name="Alice", email="alice@example.com")
    order = OrderFactory(merchant=merchant_a, customer=customer, number="1001")
    line = OrderLineFactory(order=order, title="Merino crew sock")
    shipment = ShipmentFactory(order=order, status="out_for_delivery")
    ShipmentLine.objects.create(merchant=merchant_a, shipment=shipment, order_line=line, quantity=1)

    event = outbox.publish(
        merchant=merchant_a,
        type="shipment.out_for_delivery",
        subject=f"shipment:{shipment.pk}",
        data=shipment_event_data(shipment),
    )  # autocommit: dispatched to the worker at once
    for _ in range(3):  # redelivered by a sweeper or a retry
        events_dispatch.delay(str(event.id))

    def both_sent() -> bool:
        return Message.objects.filter(status=MessageStatus.SENT).count() >= 2

    wait_for("the worker to send email and SMS", both_sent, worker, 90.0)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    wait_for(
        "the redeliveries to be consumed", lambda: broker.llen(worker.queue) == 0, worker, 60.0
    )
    time.sleep(2.0)  # the last task taken off the queue has finished
    messages = Message.objects.filter(merchant=merchant_a)
    assert sorted(messages.values_list("channel", flat=True)) == [Channel.EMAIL, Channel.SMS]
    assert set(messages.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert messages.get(channel=Channel.EMAIL).subject == (
        "Alice, your Merino crew sock is out for delivery today"
    )
