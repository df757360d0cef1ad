"""Events keep their integrity through one composite foreign key (tracking migration 0004).

An event must point at an existing shipment and carry that shipment's own merchant; deleting a
shipment (or its order) takes its events along (Django's cascade).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import ShipmentFactory
from tracking.models import EventSource, TrackingEvent

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def _event(shipment_id: int, merchant_id: int, key: str = "k") -> TrackingEvent:
    return TrackingEvent(
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        dedupe_key=key,
        carrier="ups",
        tracking_number="1Z",
        occurred_at=AT,
        status="in_transit",
        source=EventSource.IMPORT,
        received_at=AT,
    )


def _insert_and_check(event: TrackingEvent) -> None:
    with transaction.atomic():
        TrackingEvent.objects.bulk_create([event])
        connection.check_constraints()  # the deferred checks, now


@pytest.mark.postgres
def test_an_event_of_another_merchants_shipment_is_refused(merchant_a, merchant_b):
    shipment = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
    _insert_and_check(_event(shipment.pk, merchant_a.pk))
    with pytest.raises(IntegrityError):
        _insert_and_check(_event(shipment.pk, merchant_b.pk, key="other"))
    assert list(TrackingEvent.objects.values_list("merchant_id", flat=True)) == [merchant_a.pk]


@pytest.mark.postgres
def test_an_event_of_a_missing_shipment_or_merchant_is_refused(merchant_a):
    shipment = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
    with pytest.raises(IntegrityError):
        _insert_and_check(_event(shipment.pk + 1000, merchant_a.pk))
    with pytest.raises(IntegrityError):
        _insert_and_check(_event(shipment.pk, merchant_a.pk + 1000))
    assert not TrackingEvent.objects.exists()


def test_deleting_a_shipment_deletes_its_events_only(merchant_a, merchant_b):
    first = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
    second = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
    other = ShipmentFactory(order__merchant=merchant_b, carrier="ups")
    TrackingEvent.objects.bulk_create(
        [_event(s.pk, s.merchant_id, key=str(s.pk)) for s in (first, second, other)]
    )
    first.delete()
    assert set(TrackingEvent.objects.values_list("shipment_id", flat=True)) == {second.pk, other.pk}
    second.order.delete()
    assert list(TrackingEvent.objects.values_list("shipment_id", flat=True)) == [other.pk]
