"""Polling the carriers' APIs (recorded with `responses`) and the no-scan sweeps."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import responses
from django.utils import timezone

from tests.factories import ShipmentFactory
from tests.tracking.ingest_helpers import published, scan
from tracking import tasks
from tracking.domain import ShipmentStatus
from tracking.models import CarrierPollState, EventSource, Shipment, TrackingEvent
from tracking.normalisation import shipment_record_events
from tracking.polling import poll_due_claim, shipments_sweep_quiet
from tracking.scheduling import poll_interval

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
UPS_BASE = "https://ups.test"
NUMBER = "1Z5R89390357567127"
TRACK = f"{UPS_BASE}/api/track/v1/details/{NUMBER}"
TOKEN = f"{UPS_BASE}/security/v1/oauth/token"


@pytest.fixture
def ups_configured(settings):
    settings.CARRIER_API_BASE_URLS = {"ups": UPS_BASE}
    settings.CARRIER_API_CREDENTIALS = {"ups": {"client_id": "id", "client_secret": "secret"}}
    settings.CARRIER_API_RATE_LIMITS = {"ups": {"rate_per_second": 100.0, "burst": 100}}
    responses.post(TOKEN, json={"access_token": "t", "token_type": "Bearer", "expires_in": 3600})


@pytest.fixture
def due(merchant_a):
    return ShipmentFactory(
        order__merchant=merchant_a,
        carrier="ups",
        tracking_number=NUMBER,
        status=ShipmentStatus.IN_TRANSIT,
        next_check_at=timezone.now() - timedelta(minutes=1),
    )


def _ups_answer() -> dict:
    return json.loads((FIXTURES / "ups_exception_then_delivered.json").read_text())


@responses.activate
@pytest.mark.usefixtures("ups_configured")
def test_due_shipment_is_polled_recorded_and_no_longer_scheduled_once_delivered(due):
    track = responses.get(TRACK, json=_ups_answer())
    assert tasks.poll_due() == 1
    assert track.call_count == 1
    due.refresh_from_db()
    assert due.status == ShipmentStatus.DELIVERED
    assert due.last_checked_at is not None
    assert due.next_check_at is None  # finished: not polled again
    assert set(TrackingEvent.objects.values_list("source", flat=True)) == {EventSource.POLL}
    assert published()["shipment.delivered"] == 1
    # Nothing is due any more.
    assert tasks.poll_due() == 0
    assert track.call_count == 1


@responses.activate
@pytest.mark.usefixtures("ups_configured")
def test_429_with_retry_after_pauses_the_carrier_without_penalising_the_shipment(due, merchant_a):
    other = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="ups",
        tracking_number="1Z999AA10123456784",
        status=ShipmentStatus.IN_TRANSIT,
        next_check_at=timezone.now() - timedelta(minutes=1),
    )
    track = responses.get(TRACK, status=429, headers={"Retry-After": "120"})
    responses.get(f"{UPS_BASE}/api/track/v1/details/1Z999AA10123456784", json=_ups_answer())
    before = timezone.now()
    tasks.poll_due()
    state = CarrierPollState.objects.get(carrier="ups")
    assert before + timedelta(seconds=119) <= state.paused_until <= before + timedelta(seconds=125)
    due.refresh_from_db()
    other.refresh_from_db()
    assert due.poll_failures == 0
    assert due.next_check_at >= state.paused_until
    # The other shipment was not asked for while the carrier is paused; it waits too.
    assert other.next_check_at >= state.paused_until
    assert track.call_count == 1
    assert len(responses.calls) == 2  # token + the one refused request
    # While paused, the scheduler hands out nothing for that carrier.
    Shipment.objects.update(next_check_at=timezone.now() - timedelta(minutes=1))
    assert poll_due_claim(carriers=["ups"]) == {}


@responses.activate
@pytest.mark.usefixtures("ups_configured")
def test_server_error_backs_off_exponentially(due, settings):
    responses.get(TRACK, status=503, body="upstream down")
    tasks.poll_due()
    due.refresh_from_db()
    assert due.poll_failures == 1
    wait = due.next_check_at - due.last_checked_at
    base = settings.TRACKING_POLL_IN_TRANSIT * 2
    assert (
        base * (1 - settings.TRACKING_POLL_JITTER)
        <= wait
        <= base * (1 + settings.TRACKING_POLL_JITTER)
    )
    assert TrackingEvent.objects.count() == 0


@responses.activate
@pytest.mark.usefixtures("ups_configured")
def test_refused_request_backs_off_harder(due):
    responses.get(TRACK, status=400, json={"response": {"errors": [{"code": "151018"}]}})
    tasks.poll_due()
    due.refresh_from_db()
    assert due.poll_failures == 3


@responses.activate
@pytest.mark.usefixtures("ups_configured")
def test_scheduler_respects_each_carriers_budget_and_skips_finished(merchant_a, settings):
    settings.CARRIER_API_RATE_LIMITS = {"ups": {"rate_per_second": 0.05, "burst": 1}}  # 3 a minute
    past = timezone.now() - timedelta(minutes=5)
    for n in range(5):
        ShipmentFactory(
            order__merchant=merchant_a,
            carrier="ups",
            status=ShipmentStatus.IN_TRANSIT,
            next_check_at=past + timedelta(seconds=n),
        )
    ShipmentFactory(order__merchant=merchant_a, status=ShipmentStatus.DELIVERED, next_check_at=past)
    ShipmentFactory(order__merchant=merchant_a, next_check_at=timezone.now() + timedelta(hours=1))
    claimed = poll_due_claim(carriers=["ups"])
    assert len(claimed["ups"]) == 3
    leased = Shipment.objects.filter(pk__in=claimed["ups"])
    assert all(s.next_check_at > timezone.now() for s in leased)
    # The next run takes the remaining two; finished and not-yet-due shipments never.
    assert len(poll_due_claim(carriers=["ups"])["ups"]) == 2
    assert poll_due_claim(carriers=["ups"]) == {}


def test_new_shipment_without_a_schedule_is_due_at_once(merchant_a):
    fresh = ShipmentFactory(order__merchant=merchant_a, carrier="ups")
    assert fresh.next_check_at is None
    assert poll_due_claim(carriers=["ups"]) == {"ups": [fresh.pk]}


@pytest.mark.parametrize(
    ("status", "due_date", "expected"),
    [
        (ShipmentStatus.OUT_FOR_DELIVERY, None, "TRACKING_POLL_NEAR_DELIVERY"),
        (ShipmentStatus.IN_TRANSIT, date(2026, 11, 23), "TRACKING_POLL_NEAR_DELIVERY"),
        (ShipmentStatus.IN_TRANSIT, date(2026, 11, 25), "TRACKING_POLL_IN_TRANSIT"),
        (ShipmentStatus.INFO_RECEIVED, None, "TRACKING_POLL_AT_REST"),
        (ShipmentStatus.AVAILABLE_FOR_PICKUP, None, "TRACKING_POLL_AT_REST"),
        (ShipmentStatus.DELIVERED, None, None),
    ],
)
def test_poll_interval_follows_where_the_parcel_is(settings, status, due_date, expected):
    interval = poll_interval(status=status, due_date=due_date, today=date(2026, 11, 23))
    assert interval == (getattr(settings, expected) if expected else None)


def test_moving_parcel_without_scans_is_flagged_stalled_once(merchant_a, settings):
    shipment = ShipmentFactory(order__merchant=merchant_a)
    long_ago = timezone.now() - settings.TRACKING_STALLED_AFTER - timedelta(hours=1)
    shipment_record_events(
        shipment=shipment, events=[scan(shipment, long_ago.isoformat(), ShipmentStatus.IN_TRANSIT)]
    )
    resting = ShipmentFactory(order__merchant=merchant_a)
    shipment_record_events(
        shipment=resting,
        events=[scan(resting, long_ago.isoformat(), ShipmentStatus.AVAILABLE_FOR_PICKUP)],
    )
    assert shipments_sweep_quiet().stalled == 1
    assert shipments_sweep_quiet().stalled == 0
    assert published()["shipment.stalled"] == 1
    shipment.refresh_from_db()
    assert shipment.stalled_at is not None
    # A new scan clears the flag, so a later silence is reported again.
    shipment_record_events(
        shipment=shipment,
        events=[
            scan(
                shipment,
                (long_ago + timedelta(minutes=5)).isoformat(),
                ShipmentStatus.IN_TRANSIT,
                city="B",
            )
        ],
    )
    assert shipments_sweep_quiet().stalled == 1


def test_shipment_silent_for_too_long_expires(merchant_a, settings):
    silent = ShipmentFactory(order__merchant=merchant_a)
    old = timezone.now() - settings.TRACKING_EXPIRE_AFTER - timedelta(days=1)
    shipment_record_events(
        shipment=silent, events=[scan(silent, old.isoformat(), ShipmentStatus.IN_TRANSIT)]
    )
    delivered = ShipmentFactory(order__merchant=merchant_a)
    shipment_record_events(
        shipment=delivered, events=[scan(delivered, old.isoformat(), ShipmentStatus.DELIVERED)]
    )
    recent = ShipmentFactory(order__merchant=merchant_a)
    outcome = shipments_sweep_quiet()
    assert outcome.expired == 1
    silent.refresh_from_db()
    delivered.refresh_from_db()
    recent.refresh_from_db()
    assert (silent.status, silent.next_check_at) == (ShipmentStatus.EXPIRED, None)
    assert delivered.status == ShipmentStatus.DELIVERED
    assert recent.status == ShipmentStatus.PENDING
    # A scan after all revives it.
    shipment_record_events(
        shipment=silent,
        events=[scan(silent, datetime.now(UTC).isoformat(), ShipmentStatus.OUT_FOR_DELIVERY)],
    )
    silent.refresh_from_db()
    assert silent.status == ShipmentStatus.OUT_FOR_DELIVERY
