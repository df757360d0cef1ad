"""Recording scans: one row per scan, status by carrier time, one domain event per change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.factories import ShipmentFactory
from tests.tracking.ingest_helpers import published, scan
from tracking.domain import ExceptionReason, Lifecycle, ShipmentStatus
from tracking.models import EventSource, TrackingEvent, UnmappedCarrierCode
from tracking.normalisation import (
    ShipmentEvents,
    shipment_record_events,
    shipments_record_events,
)
from tracking.scan_keys import scan_key

pytestmark = pytest.mark.django_db

S = ShipmentStatus


@pytest.fixture
def shipment(merchant_a):
    return ShipmentFactory(order__merchant=merchant_a, carrier="ups")


def test_same_scan_recorded_twice_is_one_event_and_no_second_domain_event(shipment):
    events = [
        scan(shipment, "2026-11-21T10:00", S.INFO_RECEIVED),
        scan(shipment, "2026-11-21T18:00", S.IN_TRANSIT),
    ]
    first = shipment_record_events(shipment=shipment, events=events)
    before = published()
    second = shipment_record_events(shipment=shipment, events=events, source=EventSource.POLL)
    assert (first.new_events, second.new_events) == (2, 0)
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 2
    assert published() == before
    assert before["shipment.status_changed"] == 1
    assert before["shipment.events_recorded"] == 1


def test_same_instant_in_another_zone_is_the_same_scan(shipment):
    utc = datetime(2026, 11, 21, 14, 30, 12, tzinfo=UTC)
    eastern = utc.astimezone(timezone(timedelta(hours=-5)))
    common = {"carrier": "UPS", "tracking_number": "1z 999", "carrier_code": "ar", "city": "X"}
    assert scan_key(occurred_at=utc, **common) == scan_key(
        occurred_at=eastern.replace(second=0), **{**common, "carrier": "ups", "city": " x "}
    )
    assert scan_key(occurred_at=utc, **common) != scan_key(
        occurred_at=utc, **{**common, "city": "Y"}
    )


def test_out_of_order_arrival_gives_the_status_of_the_latest_scan(shipment):
    delivered = scan(shipment, "2026-11-23T15:00", S.DELIVERED)
    shipment_record_events(shipment=shipment, events=[delivered])
    shipment_record_events(
        shipment=shipment,
        events=[
            scan(shipment, "2026-11-21T10:00", S.INFO_RECEIVED),
            scan(shipment, "2026-11-23T08:00", S.OUT_FOR_DELIVERY),
        ],
    )
    shipment.refresh_from_db()
    assert shipment.status == S.DELIVERED
    assert shipment.lifecycle == Lifecycle.DELIVERED
    assert shipment.delivered_at == delivered.occurred_at
    assert shipment.last_event_at == delivered.occurred_at
    counts = published()
    assert counts["shipment.delivered"] == 1
    assert counts["shipment.status_changed"] == 1
    assert counts["shipment.out_for_delivery"] == 0


def test_delivered_does_not_regress_to_a_later_transit_scan(shipment):
    shipment_record_events(
        shipment=shipment,
        events=[
            scan(shipment, "2026-11-23T15:00", S.DELIVERED),
            scan(shipment, "2026-11-23T19:00", S.IN_TRANSIT, city="Hub"),
            scan(shipment, "2026-11-24T09:00", S.EXCEPTION, reason=ExceptionReason.CARRIER_OTHER),
        ],
    )
    shipment.refresh_from_db()
    assert shipment.status == S.DELIVERED
    assert shipment.status_reason == ""


def test_delivered_may_turn_into_a_return(shipment):
    shipment_record_events(
        shipment=shipment, events=[scan(shipment, "2026-11-23T15:00", S.DELIVERED)]
    )
    shipment_record_events(
        shipment=shipment, events=[scan(shipment, "2026-11-25T09:00", S.RETURNING_TO_SENDER)]
    )
    shipment.refresh_from_db()
    assert shipment.status == S.RETURNING_TO_SENDER
    assert shipment.lifecycle == Lifecycle.SENT_BACK
    assert shipment.delivered_at is None
    assert published()["shipment.status_changed"] == 2


def test_lifecycle_keeps_the_furthest_stage_any_scan_reached(shipment):
    shipment_record_events(
        shipment=shipment,
        events=[
            scan(shipment, "2026-11-22T07:00", S.OUT_FOR_DELIVERY),
            scan(shipment, "2026-11-22T20:00", S.IN_TRANSIT, city="Back at depot"),
        ],
    )
    shipment.refresh_from_db()
    assert shipment.status == S.IN_TRANSIT
    assert shipment.lifecycle == Lifecycle.LAST_MILE


def test_customs_scan_sets_the_customs_stage(shipment):
    shipment_record_events(
        shipment=shipment,
        events=[
            scan(shipment, "2026-11-22T07:00", S.IN_TRANSIT),
            scan(
                shipment,
                "2026-11-22T12:00",
                S.EXCEPTION,
                reason=ExceptionReason.CUSTOMS_DUTIES_UNPAID,
                action_required=True,
            ),
        ],
    )
    shipment.refresh_from_db()
    assert shipment.lifecycle == Lifecycle.CUSTOMS
    assert (shipment.status, shipment.status_reason, shipment.action_required) == (
        S.EXCEPTION,
        ExceptionReason.CUSTOMS_DUTIES_UNPAID,
        True,
    )


def test_exception_event_says_why_and_whether_the_shopper_must_act(shipment, merchant_a):
    from postpurchase.models import DomainEvent

    shipment_record_events(
        shipment=shipment,
        events=[
            scan(
                shipment,
                "2026-11-22T12:00",
                S.EXCEPTION,
                reason=ExceptionReason.CONSIGNEE_ADDRESS_INCORRECT,
                action_required=True,
            )
        ],
    )
    event = DomainEvent.objects.get(type="shipment.exception")
    assert event.merchant == merchant_a
    assert event.subject == f"shipment:{shipment.pk}"
    assert event.data["reason"] == "consignee.address_incorrect"
    assert event.data["action_required"] is True
    assert event.data["previous_status"] == "pending"


def test_each_milestone_is_published_once_per_change(shipment):
    steps = [
        (S.IN_TRANSIT, "2026-11-21T10:00", None),
        (S.OUT_FOR_DELIVERY, "2026-11-22T07:00", "shipment.out_for_delivery"),
        (S.ATTEMPT_FAILED, "2026-11-22T15:00", "shipment.attempt_failed"),
        (S.AVAILABLE_FOR_PICKUP, "2026-11-23T09:00", "shipment.available_for_pickup"),
        (S.DELIVERED, "2026-11-24T11:00", "shipment.delivered"),
    ]
    for status, when, milestone in steps:
        shipment_record_events(shipment=shipment, events=[scan(shipment, when, status)])
        # A repeat of the same scan and a same-status scan change nothing.
        shipment_record_events(shipment=shipment, events=[scan(shipment, when, status)])
        if milestone:
            assert published()[milestone] == 1
    counts = published()
    assert counts["shipment.status_changed"] == len(steps)
    assert counts["shipment.events_recorded"] == len(steps)


def test_unmapped_codes_are_kept_and_counted_per_carrier(shipment, merchant_b):
    other = ShipmentFactory(order__merchant=merchant_b, carrier="ups")
    for target in (shipment, other):
        shipment_record_events(
            shipment=target,
            events=[
                scan(target, "2026-11-21T10:00", S.IN_TRANSIT, code="ZZ9", mapped=False),
                scan(target, "2026-11-21T11:00", S.IN_TRANSIT, code="ZZ9", mapped=False),
            ],
        )
    counter = UnmappedCarrierCode.objects.get(carrier="ups", carrier_code="ZZ9")
    assert counter.occurrences == 4
    assert counter.mapped_to == S.IN_TRANSIT
    kept = TrackingEvent.objects.filter(shipment=shipment, carrier_code="ZZ9")
    assert kept.count() == 2
    assert not kept.first().mapped  # type: ignore[union-attr]


def test_batch_records_each_shipment_under_its_own_merchant(merchant_a, merchant_b):
    a = ShipmentFactory(order__merchant=merchant_a, tracking_number="1Z0000000000000001")
    b = ShipmentFactory(order__merchant=merchant_b, tracking_number="1Z0000000000000001")
    results = shipments_record_events(
        batch=[
            ShipmentEvents(a, [scan(a, "2026-11-21T10:00", S.IN_TRANSIT)]),
            ShipmentEvents(b, [scan(b, "2026-11-21T10:00", S.DELIVERED)]),
        ]
    )
    assert [r.new_events for r in results] == [1, 1]
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == (S.IN_TRANSIT, S.DELIVERED)
    assert published(merchant_a)["shipment.delivered"] == 0
    assert published(merchant_b)["shipment.delivered"] == 1
    assert set(TrackingEvent.objects.filter(shipment=b).values_list("merchant", flat=True)) == {
        merchant_b.pk
    }


def test_new_scan_schedules_the_next_poll_by_status_and_clears_stalled(shipment, settings):
    shipment.stalled_at = datetime(2026, 11, 22, tzinfo=UTC)
    shipment.save()
    shipment_record_events(
        shipment=shipment, events=[scan(shipment, "2026-11-22T07:00", S.OUT_FOR_DELIVERY)]
    )
    shipment.refresh_from_db()
    assert shipment.stalled_at is None
    wait = shipment.next_check_at - shipment.updated_at
    limit = settings.TRACKING_POLL_NEAR_DELIVERY * (1 + settings.TRACKING_POLL_JITTER)
    assert timedelta(0) < wait <= limit
    shipment_record_events(
        shipment=shipment, events=[scan(shipment, "2026-11-22T17:00", S.DELIVERED)]
    )
    shipment.refresh_from_db()
    assert shipment.next_check_at is None
