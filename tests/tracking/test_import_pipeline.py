"""The import outside any transaction (as the command runs): several batches, on PostgreSQL
written by the writer thread while the next batch is read, counted exactly as one batch."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from tests.factories import ShipmentFactory
from tracking.bulk_import import import_tracking_events, read_rows
from tracking.domain import ShipmentStatus
from tracking.models import TrackingEvent

HEADER = "merchant,carrier,tracking_number,occurred_at,status,code,city,country"


def _csv(lines: list[str]) -> io.StringIO:
    return io.StringIO("\n".join([HEADER, *lines]) + "\n")


@pytest.mark.django_db(transaction=True)
def test_batches_through_the_writer_count_every_row_once(merchant_a):
    ups = ShipmentFactory(
        order__merchant=merchant_a, carrier="ups", tracking_number="1Z999AA10123456784"
    )
    usps = ShipmentFactory(
        order__merchant=merchant_a,
        carrier="usps",
        tracking_number="9400100000000000000000",
        shipped_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    lines = [
        "aurora,ups,1Z999AA10123456784,2026-11-21T10:00:00Z,info_received,MP,,US",  # 2
        "aurora,usps,9400100000000000000000,2026-11-21T11:00:00Z,in_transit,A,Hub,US",  # 3
        "aurora,ups,1Z999AA10123456784,2026-11-22T08:00:00Z,in_transit,AR,Hub,US",  # 4
        "aurora,ups,1Z999AA10123456784,2026-11-22T03:00:00-05:00,in_transit,ar,hub,US",  # dup
        "aurora,ups,UNKNOWN0000001,2026-11-23T09:00:00Z,in_transit,AR,Hub,US",  # 6 no shipment
        "aurora,,1Z999AA10123456784,2026-11-23T15:00:00Z,delivered,D,Town,US",  # 7 no carrier
        "nobody,ups,1Z999AA10123456784,2026-11-23T16:00:00Z,delivered,D,Town,US",  # 8 merchant
        "aurora,usps,9400100000000000000000,2026-11-21T11:00:00Z,in_transit,A,Hub,US",  # dup
        "aurora,usps,9400100000000000000000,not a time,in_transit,A,Hub,US",  # 10 bad time
    ]
    reported: list[int] = []
    summary = import_tracking_events(
        rows=read_rows(_csv(lines), "csv"), batch_size=2, progress=reported.append
    )
    assert (summary.rows, summary.accepted, summary.duplicate, summary.rejected) == (9, 4, 2, 3)
    assert sum(reported) == 9
    assert sorted(line for line, _ in summary.rejections) == [6, 8, 10]
    assert TrackingEvent.objects.filter(shipment=ups).count() == 3
    assert TrackingEvent.objects.filter(shipment=usps).count() == 1
    ups.refresh_from_db()
    assert ups.status == ShipmentStatus.DELIVERED

    again = import_tracking_events(rows=read_rows(_csv(lines), "csv"), batch_size=3)
    assert (again.accepted, again.duplicate, again.rejected) == (0, 6, 3)
    assert TrackingEvent.objects.count() == 4


def test_csv_rows_short_long_and_blank_read_as_the_header_says():
    stream = io.StringIO(
        "tracking_number,status,occurred_at\n"
        "1Z1,in_transit\n"  # short: the missing value reads as empty
        "\n"  # blank: skipped
        "1Z2,delivered,2026-11-21T10:00:00Z,extra\n"  # long: the extra value is ignored
    )
    rows = list(read_rows(stream, "csv"))
    by_name = [
        dict(
            zip(
                ("merchant", "carrier", "tracking_number", "occurred_at", "status"),
                r[1][:5],
                strict=True,
            )
        )
        for r in rows
    ]
    assert [r[0] for r in rows] == [2, 4]
    assert by_name[0] == {
        "merchant": "",
        "carrier": "",
        "tracking_number": "1Z1",
        "occurred_at": "",
        "status": "in_transit",
    }
    assert by_name[1]["occurred_at"] == "2026-11-21T10:00:00Z"
    assert all(len(r[1]) == 16 for r in rows)


@pytest.mark.django_db
def test_an_import_inside_a_callers_transaction_leaves_its_commit_synchronous(merchant_a):
    """Batches of their own commit asynchronously (the final re-derivation flushes them); inside
    a caller's transaction that setting would outlive the import, so it is not made."""
    from django.db import connection, transaction

    ShipmentFactory(order__merchant=merchant_a, carrier="ups", tracking_number="1Z999AA10123456784")
    lines = ["aurora,ups,1Z999AA10123456784,2026-11-21T10:00:00Z,in_transit,AR,Hub,US"]
    with transaction.atomic():
        summary = import_tracking_events(rows=read_rows(_csv(lines), "csv"))
        assert summary.accepted == 1
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()[0] == "on"
