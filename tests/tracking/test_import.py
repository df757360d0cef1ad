"""manage.py import_tracking_events: accepted, duplicate and rejected rows with line numbers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import ShipmentFactory
from tracking.domain import Lifecycle, ShipmentStatus
from tracking.models import EventSource, TrackingEvent

pytestmark = pytest.mark.django_db

HEADER = "merchant,carrier,tracking_number,occurred_at,status,code,description,city,country"


def run(path, *args: str) -> str:
    out = StringIO()
    call_command("import_tracking_events", str(path), "--no-progress", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def shipment(merchant_a):
    return ShipmentFactory(
        order__merchant=merchant_a, carrier="ups", tracking_number="1Z999AA10123456784"
    )


def test_csv_import_reports_accepted_duplicates_and_rejected_lines(tmp_path, shipment):
    path = tmp_path / "events.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                "aurora,ups,1Z999AA10123456784,2026-11-21T10:00:00Z,info_received,MP,Label,,US",
                "aurora,ups,1Z999AA10123456784,2026-11-22T08:00:00Z,in_transit,AR,Arrived,Hub,US",
                # line 4: the same scan again (another zone, same instant) -> duplicate
                "aurora,ups,1z999aa1 0123456784,2026-11-22T03:00:00-05:00,in_transit,AR,,hub,US",
                "aurora,ups,1Z999AA10123456784,22/11/2026,in_transit,AR,Arrived,Hub,US",
                "aurora,ups,1Z999AA10123456784,2026-11-23T09:00:00Z,teleported,X,?,Hub,US",
                "aurora,ups,UNKNOWN0000001,2026-11-23T09:00:00Z,in_transit,AR,Arrived,Hub,US",
                "aurora,ups,1Z999AA10123456784,2026-11-23T15:00:00Z,delivered,D,Delivered,Town,US",
            ]
        )
        + "\n"
    )
    output = run(path)
    assert "rows 7: accepted 3, duplicate 1, rejected 3" in output
    assert "line 5: occurred_at: '22/11/2026' is not an ISO 8601 time" in output
    assert "line 6: status: 'teleported' is not one of" in output
    assert "line 7: no shipment of ups number UNKNOWN0000001" in output
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.DELIVERED
    assert shipment.lifecycle == Lifecycle.DELIVERED
    assert set(TrackingEvent.objects.values_list("source", flat=True)) == {EventSource.IMPORT}

    again = run(path)
    assert "accepted 0, duplicate 4, rejected 3" in again
    assert TrackingEvent.objects.count() == 3


def test_jsonl_import_with_default_merchant_and_bad_json(tmp_path, shipment, merchant_b):
    rows = [
        {
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "occurred_at": "2026-11-22T08:00:00+00:00",
            "status": "exception",
            "reason": "weather",
            "action_required": "no",
        },
        "{not json",
        {"tracking_number": "1Z999AA10123456784", "status": "in_transit"},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    output = run(path, "--merchant", "aurora")
    assert "rows 3: accepted 1, duplicate 0, rejected 2" in output
    assert "line 2: not JSON" in output
    assert "line 3: missing occurred_at" in output
    shipment.refresh_from_db()
    assert (shipment.status, shipment.status_reason) == ("exception", "weather")

    # The same number under the other merchant has no shipment there: rejected, not leaked.
    other = run(path, "--merchant", "aurora-jp")
    assert "accepted 0, duplicate 0, rejected 3" in other
    assert "line 1: no shipment of ups number 1Z999AA10123456784 for merchant aurora-jp" in other


def test_import_matches_the_shipment_of_the_right_ship_date(tmp_path, merchant_a):
    old = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="usps",
        tracking_number="9400100000000000000000",
        shipped_at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    new = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="usps",
        tracking_number="9400100000000000000000",
        shipped_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    path = tmp_path / "recycled.csv"
    path.write_text(
        HEADER + "\naurora,usps,9400100000000000000000,2026-11-21T10:00:00Z,in_transit,A,,,\n"
    )
    assert "accepted 1" in run(path)
    assert TrackingEvent.objects.get().shipment == new
    old.refresh_from_db()
    assert old.status == ShipmentStatus.PENDING


def test_backfill_publishes_nothing_unless_asked(tmp_path, shipment):
    from tests.tracking.ingest_helpers import published

    path = tmp_path / "events.csv"
    path.write_text(
        HEADER + "\naurora,ups,1Z999AA10123456784,2026-11-23T15:00:00Z,delivered,D,,,\n"
    )
    run(path)
    assert published()["shipment.delivered"] == 0
    path.write_text(
        HEADER + "\naurora,ups,1Z999AA10123456784,2026-11-25T15:00:00Z,returning_to_sender,R,,,\n"
    )
    run(path, "--publish")
    counts = published()
    assert counts["shipment.status_changed"] == 1
    assert counts["shipment.events_recorded"] == 1


def test_unknown_csv_column_stops_with_a_clear_error(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("tracking_number,when\n1Z,2026\n")
    with pytest.raises(CommandError, match="unknown CSV columns: when"):
        run(path)


def test_ship_date_and_carrierless_rows_match_alike_on_every_database(tmp_path, merchant_a):
    """The set-based PostgreSQL path and the Python path pick the same shipments."""
    older = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="usps",
        tracking_number="9400100000000000000000",
        shipped_at=datetime(2026, 9, 1, tzinfo=UTC),
    )
    newer = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="usps",
        tracking_number="9400100000000000000000",
        shipped_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    ups = ShipmentFactory(
        order__merchant=merchant_a, carrier="ups", tracking_number="1Z999AA10123456784"
    )
    path = tmp_path / "mixed.csv"
    path.write_text(
        "merchant,carrier,tracking_number,occurred_at,status,code,ship_date\n"
        # A scan after both ship dates: the ship date picks the older shipment.
        "aurora,usps,9400100000000000000000,2026-11-21T10:00:00Z,in_transit,A,2026-09-01\n"
        # No ship date: the most recent fitting shipment.
        "aurora,usps,9400100000000000000000,2026-11-21T11:00:00Z,in_transit,B,\n"
        # No carrier: found by the number's format.
        "aurora,,1Z999AA10123456784,2026-11-21T12:00:00Z,in_transit,C,\n"
        # The first line again: a duplicate.
        "aurora,usps,9400100000000000000000,2026-11-21T10:00:00Z,in_transit,A,2026-09-01\n"
        # A ship date no shipment fits.
        "aurora,usps,9400100000000000000000,2026-11-21T12:00:00Z,in_transit,D,2026-06-01\n"
    )
    output = run(path)
    assert "rows 5: accepted 3, duplicate 1, rejected 1" in output
    assert "line 6: no shipment of usps number 9400100000000000000000" in output
    assert list(
        TrackingEvent.objects.filter(shipment=older).values_list("carrier_code", flat=True)
    ) == ["A"]
    assert list(
        TrackingEvent.objects.filter(shipment=newer).values_list("carrier_code", flat=True)
    ) == ["B"]
    assert list(
        TrackingEvent.objects.filter(shipment=ups).values_list("carrier", "carrier_code")
    ) == [("ups", "C")]
    # The whole file again: every matched row is a duplicate now.
    assert "rows 5: accepted 0, duplicate 4, rejected 1" in run(path)
