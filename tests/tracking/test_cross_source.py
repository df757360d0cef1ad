"""One scan reported by the carrier (polling) and by an aggregator (webhook) is one event.

Every path that records scans is covered: the worker's `shipments_record_events` (webhooks and
polling) and the bulk import, which must agree.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ShipmentFactory
from tests.tracking.ingest_helpers import published
from tracking.bulk_import import import_tracking_events
from tracking.carriers import get_adapter
from tracking.domain import ExceptionReason, Location, ParsedEvent, ShipmentStatus
from tracking.models import (
    EventSource,
    InboundWebhook,
    InboundWebhookState,
    ScanOrigin,
    TrackingEvent,
)
from tracking.normalisation import ShipmentEvents, shipments_record_events
from tracking.webhooks import aftership
from tracking.webhooks.secrets import forget_cached, webhook_secret_add

pytestmark = pytest.mark.django_db

S = ShipmentStatus
R = ExceptionReason
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SHARED = Path("/work/shared/data/carriers")
NUMBER = "9400111899223100012345"
SECRET = "aftership-secret-0123456789"
_numbers = itertools.count(1)


def usps_shipment(merchant, number: str = NUMBER):
    return ShipmentFactory(
        order__merchant=merchant,
        carrier="usps",
        tracking_number=number,
        shipped_at=datetime(2026, 11, 18, 9, 0, tzinfo=UTC),
    )


def report(
    shipment,
    at: datetime,
    status: ShipmentStatus,
    code: str,
    *,
    city: str = "HERNANDO",
    postcode: str = "34442",
    reason: ExceptionReason = R.NONE,
    action_required: bool = False,
) -> ParsedEvent:
    return ParsedEvent(
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        occurred_at=at,
        status=status,
        carrier_code=code,
        carrier_text=f"{code} scan",
        reason=reason,
        action_required=action_required,
        location=Location(city=city, region="FL", postcode=postcode, country="US"),
    )


def record(shipment, events, origin: ScanOrigin):
    source = EventSource.POLL if origin == ScanOrigin.CARRIER else EventSource.WEBHOOK
    [result] = shipments_record_events(batch=[ShipmentEvents(shipment, events, source, origin)])
    return result


def shown(shipment) -> list[tuple[datetime, str, str]]:
    rows = TrackingEvent.objects.filter(shipment=shipment, duplicate_of__isnull=True)
    return list(
        rows.order_by("occurred_at", "id").values_list("occurred_at", "status", "carrier_code")
    )


# The same attempt, as USPS reports it (local time with offset, its code, ZIP) and as AfterShip
# does (UTC with seconds, its subtag, ZIP+4, city in another case).
LOCAL = datetime.fromisoformat("2026-11-22T13:58:00-05:00")
CARRIER_ATTEMPT = {"code": "02", "reason": R.CONSIGNEE_NOT_HOME, "action_required": True}
AGGREGATOR_ATTEMPT = {
    "code": "AttemptFail_001",
    "reason": R.CONSIGNEE_NOT_HOME,
    "city": "Hernando",
    "postcode": "34442-1234",
}


def test_aggregator_first_then_carrier_shows_the_carriers_scan_once_with_no_second_effect(
    merchant_a,
):
    shipment = usps_shipment(merchant_a)
    utc = datetime(2026, 11, 22, 18, 58, 40, tzinfo=UTC)
    first = record(
        shipment,
        [report(shipment, utc, S.ATTEMPT_FAILED, **AGGREGATOR_ATTEMPT)],
        ScanOrigin.AGGREGATOR,
    )
    after_aggregator = published()
    second = record(
        shipment, [report(shipment, LOCAL, S.ATTEMPT_FAILED, **CARRIER_ATTEMPT)], ScanOrigin.CARRIER
    )

    assert (first.new_events, first.matched) == (1, 0)
    assert (second.new_events, second.matched, second.status_changed) == (0, 1, False)
    assert shown(shipment) == [(LOCAL, "attempt_failed", "02")]
    hidden = TrackingEvent.objects.get(shipment=shipment, duplicate_of__isnull=False)
    assert (hidden.carrier_code, hidden.origin) == ("AttemptFail_001", ScanOrigin.AGGREGATOR)
    assert hidden.duplicate_of.carrier_code == "02"
    # The carrier's richer record wins (the shopper must act), but nothing is published again.
    shipment.refresh_from_db()
    assert (shipment.status, shipment.action_required) == (S.ATTEMPT_FAILED, True)
    assert published() == after_aggregator
    assert after_aggregator["shipment.attempt_failed"] == 1
    # The aggregator re-sending its history changes nothing.
    again = record(
        shipment,
        [report(shipment, utc, S.ATTEMPT_FAILED, **AGGREGATOR_ATTEMPT)],
        ScanOrigin.AGGREGATOR,
    )
    assert (again.new_events, again.matched) == (0, 0)
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 2
    assert published() == after_aggregator


def test_carrier_first_then_aggregator_hides_the_aggregators_report(merchant_a):
    shipment = usps_shipment(merchant_a)
    record(
        shipment, [report(shipment, LOCAL, S.ATTEMPT_FAILED, **CARRIER_ATTEMPT)], ScanOrigin.CARRIER
    )
    after_carrier = published()
    late = record(
        shipment,
        [report(shipment, LOCAL.astimezone(UTC), S.ATTEMPT_FAILED, **AGGREGATOR_ATTEMPT)],
        ScanOrigin.AGGREGATOR,
    )
    assert (late.new_events, late.matched, late.status_changed) == (0, 1, False)
    assert shown(shipment) == [(LOCAL, "attempt_failed", "02")]
    assert published() == after_carrier
    shipment.refresh_from_db()
    assert shipment.action_required is True


def test_a_new_scan_beside_a_match_is_still_published(merchant_a):
    shipment = usps_shipment(merchant_a)
    out = datetime(2026, 11, 22, 14, 10, tzinfo=UTC)
    record(
        shipment,
        [report(shipment, out, S.OUT_FOR_DELIVERY, "OutForDelivery_001")],
        ScanOrigin.AGGREGATOR,
    )
    result = record(
        shipment,
        [
            report(shipment, out, S.OUT_FOR_DELIVERY, "OF"),
            report(shipment, LOCAL, S.ATTEMPT_FAILED, **CARRIER_ATTEMPT),
        ],
        ScanOrigin.CARRIER,
    )
    assert (result.new_events, result.matched, result.status_changed) == (1, 1, True)
    assert [code for _, _, code in shown(shipment)] == ["OF", "02"]
    counts = published()
    assert (counts["shipment.out_for_delivery"], counts["shipment.attempt_failed"]) == (1, 1)
    assert counts["shipment.events_recorded"] == 2


def test_two_genuine_look_alike_scans_stay_two_events(merchant_a):
    """Two "in transit" scans of one minute at one hub are two events, whoever reports them."""
    shipment = usps_shipment(merchant_a)
    at = datetime(2026, 11, 20, 6, 13, tzinfo=UTC)
    hub = {"city": "JACKSONVILLE FL DISTRIBUTION CENTER", "postcode": ""}
    record(
        shipment,
        [
            report(shipment, at, S.IN_TRANSIT, "A1", **hub),
            report(shipment, at, S.IN_TRANSIT, "10", **hub),
        ],
        ScanOrigin.CARRIER,
    )
    one = record(
        shipment,
        [report(shipment, at, S.IN_TRANSIT, "InTransit_003", **hub)],
        ScanOrigin.AGGREGATOR,
    )
    assert (one.new_events, one.matched) == (0, 1)
    assert len(shown(shipment)) == 2
    two = record(
        shipment,
        [report(shipment, at, S.IN_TRANSIT, "InTransit_001", **hub)],
        ScanOrigin.AGGREGATOR,
    )
    assert (two.new_events, two.matched) == (0, 1)
    assert [code for _, _, code in shown(shipment)] == ["A1", "10"]
    third = record(
        shipment,
        [report(shipment, at, S.IN_TRANSIT, "InTransit_002", **hub)],
        ScanOrigin.AGGREGATOR,
    )
    assert (third.new_events, third.matched) == (1, 0)  # no carrier scan left to be its twin
    assert len(shown(shipment)) == 3


def test_two_aggregator_reports_of_one_minute_need_two_carrier_scans(merchant_a):
    shipment = usps_shipment(merchant_a)
    at = datetime(2026, 11, 20, 6, 13, tzinfo=UTC)
    record(
        shipment,
        [
            report(shipment, at, S.IN_TRANSIT, "InTransit_003"),
            report(shipment, at, S.IN_TRANSIT, "InTransit_001"),
        ],
        ScanOrigin.AGGREGATOR,
    )
    result = record(shipment, [report(shipment, at, S.IN_TRANSIT, "A1")], ScanOrigin.CARRIER)
    assert (result.new_events, result.matched) == (0, 1)
    codes = sorted(code for _, _, code in shown(shipment))
    assert len(codes) == 2
    assert codes[0] == "A1"
    assert codes[1] in {"InTransit_001", "InTransit_003"}


def test_other_origins_are_never_matched(merchant_a):
    shipment = usps_shipment(merchant_a)
    record(
        shipment, [report(shipment, LOCAL, S.ATTEMPT_FAILED, **CARRIER_ATTEMPT)], ScanOrigin.CARRIER
    )
    generic = record(
        shipment, [report(shipment, LOCAL, S.ATTEMPT_FAILED, code="attempt")], ScanOrigin.OTHER
    )
    assert (generic.new_events, generic.matched) == (1, 0)
    assert len(shown(shipment)) == 2


def test_another_shipment_or_merchant_never_matches(merchant_a, merchant_b):
    mine = usps_shipment(merchant_a)
    sibling = usps_shipment(merchant_a, number="9400111899223100099999")
    look_alike = usps_shipment(merchant_b)  # same carrier and number at another merchant
    carrier = report(mine, LOCAL, S.ATTEMPT_FAILED, **CARRIER_ATTEMPT)
    results = shipments_record_events(
        batch=[
            ShipmentEvents(mine, [carrier], EventSource.POLL, ScanOrigin.CARRIER),
            ShipmentEvents(
                sibling,
                [report(sibling, LOCAL, S.ATTEMPT_FAILED, **AGGREGATOR_ATTEMPT)],
                EventSource.WEBHOOK,
                ScanOrigin.AGGREGATOR,
            ),
            ShipmentEvents(
                look_alike,
                [report(look_alike, LOCAL, S.ATTEMPT_FAILED, **AGGREGATOR_ATTEMPT)],
                EventSource.WEBHOOK,
                ScanOrigin.AGGREGATOR,
            ),
        ]
    )
    assert [(r.new_events, r.matched) for r in results] == [(1, 0), (1, 0), (1, 0)]
    assert not TrackingEvent.objects.filter(duplicate_of__isnull=False).exists()
    assert published(merchant_b)["shipment.attempt_failed"] == 1


def _fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def _fresh_secret_cache():
    forget_cached()
    yield
    forget_cached()


def _send_aftership(client, merchant, payload) -> InboundWebhook:
    body = json.dumps(payload).encode()
    response = client.post(
        f"/webhooks/aftership/{merchant.slug}/",
        data=body,
        content_type="application/json",
        headers=aftership.sign(body, SECRET),
    )
    assert response.status_code == 202
    return InboundWebhook.objects.get(unique_key=payload["event_id"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_fresh_secret_cache")
@pytest.mark.parametrize("aggregator_first", [False, True])
def test_polled_usps_and_aftership_webhook_of_one_parcel_give_one_timeline(
    client, merchant_a, aggregator_first
):
    """Our own fixtures: USPS Tracking v3 (local times with offsets) and AfterShip (offsets, UTC
    with seconds, a naive local time, ZIP+4, ISO3 country, other case) of the same six scans."""
    webhook_secret_add(merchant=merchant_a, source="aftership", secret=SECRET)
    shipment = usps_shipment(merchant_a)
    usps_events = get_adapter("usps").parse(_fixture("usps_cross_source.json"))
    aftership_payload = _fixture("aftership_cross_source.json")
    if aggregator_first:
        hook = _send_aftership(client, merchant_a, aftership_payload)
        assert hook.state == InboundWebhookState.PROCESSED
        before = published()
        polled = record(shipment, usps_events, ScanOrigin.CARRIER)
        assert (polled.new_events, polled.matched, polled.status_changed) == (0, 6, False)
    else:
        record(shipment, usps_events, ScanOrigin.CARRIER)
        before = published()
        hook = _send_aftership(client, merchant_a, aftership_payload)
        assert (hook.state, hook.events_new) == (InboundWebhookState.DUPLICATE, 0)
    assert published() == before
    counts = published()
    # One batch moved the shipment from pending to attempt_failed: one change, published once.
    assert (counts["shipment.status_changed"], counts["shipment.attempt_failed"]) == (1, 1)
    assert [code for _, _, code in shown(shipment)] == ["03", "SF", "A1", "07", "OF", "02"]
    assert TrackingEvent.objects.filter(shipment=shipment, duplicate_of__isnull=False).count() == 6
    shipment.refresh_from_db()
    assert (shipment.status, shipment.status_reason, shipment.action_required) == (
        S.ATTEMPT_FAILED,
        R.CONSIGNEE_NOT_HOME,
        True,
    )


# --- both paths agree -------------------------------------------------------------------------

PLACES = [("HERNANDO", "34442"), ("Hernando", "34442-0001"), ("LECANTO", "34461")]
BASE = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
reports = st.lists(
    st.tuples(
        st.sampled_from([ScanOrigin.CARRIER, ScanOrigin.AGGREGATOR]),
        st.integers(min_value=0, max_value=2),  # minute
        st.sampled_from([S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED]),
        st.integers(min_value=0, max_value=len(PLACES) - 1),
        st.integers(min_value=0, max_value=59),  # second
        st.sampled_from(["X1", "X2", "X3"]),  # code
    ),
    min_size=1,
    max_size=10,
)


def _events(shipment, spec):
    origin, minute, status, place, second, code = spec
    city, postcode = PLACES[place]
    at = BASE + timedelta(minutes=minute, seconds=second)
    return origin, report(
        shipment, at, status, f"{origin.name[0]}{code}", city=city, postcode=postcode
    )


def _import_row(slug, origin, event):
    return {
        "merchant": slug,
        "carrier": event.carrier,
        "tracking_number": event.tracking_number,
        "occurred_at": event.occurred_at.isoformat(),
        "status": event.status.value,
        "code": event.carrier_code,
        "city": event.location.city,
        "region": event.location.region,
        "postcode": event.location.postcode,
        "country": event.location.country,
        "origin": origin.name.lower(),
    }


def _outcome(shipment):
    shipment.refresh_from_db()
    rows = TrackingEvent.objects.filter(shipment=shipment, duplicate_of__isnull=True)
    timeline = sorted(rows.values_list("occurred_at", "status", "carrier_code", "origin"))
    return timeline, (shipment.status, shipment.status_reason, shipment.lifecycle)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=reports)
def test_worker_and_bulk_import_agree(merchant_a, specs):
    via_worker = usps_shipment(merchant_a, number=f"94001118992231{next(_numbers):08d}")
    via_import = usps_shipment(merchant_a, number=f"94001118992231{next(_numbers):08d}")
    for spec in specs:  # one poll or webhook at a time, in arrival order
        origin, event = _events(via_worker, spec)
        record(via_worker, [event], origin)
    rows = [_import_row(merchant_a.slug, *_events(via_import, spec)) for spec in specs]
    summary = import_tracking_events(rows=list(enumerate(rows, start=2)))
    assert summary.rejected == 0
    assert (
        summary.matched
        == TrackingEvent.objects.filter(shipment=via_import, duplicate_of__isnull=False).count()
    )
    assert _outcome(via_worker) == _outcome(via_import)


def test_import_of_carrier_rows_hides_the_aggregators_reports_and_counts_them(merchant_a):
    shipment = usps_shipment(merchant_a)
    utc = datetime(2026, 11, 22, 18, 58, 40, tzinfo=UTC)
    record(
        shipment,
        [report(shipment, utc, S.ATTEMPT_FAILED, **AGGREGATOR_ATTEMPT)],
        ScanOrigin.AGGREGATOR,
    )
    row = _import_row(
        merchant_a.slug, ScanOrigin.CARRIER, report(shipment, LOCAL, S.ATTEMPT_FAILED, "02")
    )
    del row["origin"]  # the carrier's own report by default
    summary = import_tracking_events(rows=[(2, row)], publish=True)
    assert (summary.accepted, summary.matched) == (1, 1)
    assert shown(shipment) == [(LOCAL, "attempt_failed", "02")]
    assert published()["shipment.events_recorded"] == 1  # the aggregator's batch only


def test_import_rejects_an_unknown_origin(merchant_a):
    shipment = usps_shipment(merchant_a)
    row = _import_row(
        merchant_a.slug, ScanOrigin.CARRIER, report(shipment, LOCAL, S.IN_TRANSIT, "07")
    )
    summary = import_tracking_events(rows=[(2, {**row, "origin": "rumour"})])
    assert summary.rejections == [(2, "origin: 'rumour' is not carrier, aggregator or other")]


# --- the shared carrier samples (skipped when the folder is absent) ---------------------------


def _aftership_from(events, number: str) -> dict[str, object]:
    """AfterShip's report of these carrier scans: UTC times, its own tags, ISO3 countries."""
    tags = {
        S.INFO_RECEIVED: "InfoReceived",
        S.IN_TRANSIT: "InTransit",
        S.OUT_FOR_DELIVERY: "OutForDelivery",
        S.DELIVERED: "Delivered",
        S.ATTEMPT_FAILED: "AttemptFail",
        S.AVAILABLE_FOR_PICKUP: "AvailableForPickup",
    }
    checkpoints = [
        {
            "slug": event.carrier,
            "checkpoint_time": event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "message": event.carrier_text.upper(),
            "city": event.location.city.title(),
            "state": event.location.region,
            "zip": event.location.postcode,
            "country_iso3": {"US": "USA", "NL": "NLD"}.get(event.location.country, ""),
            "tag": tags[event.status],
            "subtag": f"{tags[event.status]}_001",
        }
        for event in events
    ]
    return {
        "event": "tracking_update",
        "event_id": "shared",
        "msg": {"tracking_number": number, "slug": "usps", "checkpoints": checkpoints},
    }


@pytest.mark.skipif(not SHARED.exists(), reason="shared carrier samples not present")
def test_shared_usps_sample_and_its_aftership_report_give_one_timeline(merchant_a):
    payload = json.loads((SHARED / "usps_tracking_v3_responses_karrio.json").read_text("utf-8"))
    usps_events = get_adapter("usps").parse(payload[0])
    number = usps_events[0].tracking_number
    shipment = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="usps",
        tracking_number=number,
        shipped_at=usps_events[0].occurred_at,
    )
    relayed = get_adapter("aftership").parse(_aftership_from(usps_events, number))
    assert len(relayed) == len(usps_events)
    carrier = record(shipment, usps_events, ScanOrigin.CARRIER)
    aggregator = record(shipment, relayed, ScanOrigin.AGGREGATOR)
    assert aggregator.new_events == 0
    assert aggregator.matched == carrier.new_events
    assert {code for _, _, code in shown(shipment)} == {e.carrier_code for e in usps_events}


@pytest.mark.skipif(not SHARED.exists(), reason="shared carrier samples not present")
def test_shared_easypost_sample_and_the_carriers_own_report_give_one_timeline(merchant_a):
    """EasyPost relays FedEx's scans in UTC; FedEx's API reports them in local time."""
    payload = json.loads(
        (SHARED / "easypost_webhook_tracker_updated_event.json").read_text("utf-8")
    )
    relayed = get_adapter("easypost").parse(payload)
    shipment = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="fedex",
        tracking_number=relayed[0].tracking_number,
        shipped_at=relayed[0].occurred_at,
    )
    from tracking.carriers import local_time

    scans = [
        {
            "date": e.occurred_at.astimezone(
                local_time.zone_for(e.location, e.occurred_at.replace(tzinfo=None)) or UTC
            ).isoformat(),
            "eventType": e.carrier_code,
            "eventDescription": e.carrier_text,
            "scanLocation": {
                "city": e.location.city,
                "stateOrProvinceCode": e.location.region,
                "postalCode": e.location.postcode,
                "countryCode": e.location.country,
            },
        }
        for e in relayed
    ]
    own = get_adapter("fedex").parse(
        {
            "output": {
                "completeTrackResults": [
                    {
                        "trackingNumber": shipment.tracking_number,
                        "trackResults": [{"scanEvents": scans}],
                    }
                ]
            }
        }
    )
    aggregator = record(shipment, relayed, ScanOrigin.AGGREGATOR)
    carrier = record(shipment, own, ScanOrigin.CARRIER)
    assert aggregator.new_events == len(relayed)
    # EasyPost passes FedEx's own codes on: most are the same scan key already, the rest match.
    assert carrier.new_events == 0
    assert len(shown(shipment)) == len(relayed)
