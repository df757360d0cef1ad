"""The set-based writes of recording scans: new events, unmapped codes, derived statuses.

A batch's incoming scans travel as `EventRow` named tuples (the columns of
`tracking_trackingevent`, no Django model per row). On PostgreSQL they are COPied into a
temporary table of the session and moved with one `INSERT … SELECT … ON CONFLICT DO NOTHING
RETURNING`, which says exactly which went in; the shipments' derived fields likewise go through
COPY and one `UPDATE … FROM`. COPY's row writer is C, where the former `unnest(<array per
column>)` parameters were dumped element by element in Python (a fifth of a batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from tracking.models import Shipment, TrackingEvent


class EventRow(NamedTuple):
    """One scan to store, in the column order of `tracking_trackingevent` (and of the COPY)."""

    merchant_id: int
    shipment_id: int
    dedupe_key: str
    carrier: str
    tracking_number: str
    occurred_at: datetime
    status: str
    reason: str
    action_required: bool
    carrier_code: str
    carrier_text: str
    city: str
    region: str
    postcode: str
    country: str
    mapped: bool
    mapping_version: str
    estimated_delivery: datetime | None
    source: str
    received_at: datetime
    origin: int
    match_key: int | None


_COLUMNS = ", ".join(EventRow._fields)
_INCOMING = "tracking_event_incoming"


def event_rows_insert_new(incoming: dict[tuple[int, str], EventRow]) -> list[EventRow]:
    """Insert the scans not stored yet; return those that were new.

    On PostgreSQL: COPY into a temporary table (emptied at commit), then one `INSERT … SELECT …
    ON CONFLICT (shipment_id, dedupe_key) DO NOTHING RETURNING`. Elsewhere the stored keys are
    read first (the caller holds the shipments' locks, so none can appear meanwhile) and the rest
    bulk-inserted ignoring conflicts.
    """
    if not incoming:
        return []
    if connection.vendor != "postgresql":
        existing = _existing_keys(incoming)
        new_rows = [row for key, row in incoming.items() if key not in existing]
        TrackingEvent.objects.bulk_create(
            [TrackingEvent(**row._asdict()) for row in new_rows],
            ignore_conflicts=True,
            batch_size=1000,
        )
        return new_rows
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} ON COMMIT DELETE ROWS AS"  # noqa: S608
            f" SELECT {_COLUMNS} FROM tracking_trackingevent WITH NO DATA"
        )
        # Empty unless an earlier batch ran in the same (still open) transaction.
        cursor.execute(f"TRUNCATE {_INCOMING}")
        raw = cursor.cursor  # the psycopg cursor underneath Django's wrapper
        with raw.copy(f"COPY {_INCOMING} ({_COLUMNS}) FROM STDIN") as copy:
            for row in incoming.values():
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO tracking_trackingevent ({_COLUMNS})"  # noqa: S608 - fixed columns
            f" SELECT {_COLUMNS} FROM {_INCOMING}"
            " ON CONFLICT (shipment_id, dedupe_key) DO NOTHING RETURNING shipment_id, dedupe_key"
        )
        inserted = {(int(pk), key) for pk, key in cursor.fetchall()}
    return [row for key, row in incoming.items() if key in inserted]


def _existing_keys(incoming: dict[tuple[int, str], EventRow]) -> set[tuple[int, str]]:
    if not incoming:
        return set()
    shipment_ids = {pk for pk, _ in incoming}
    keys = {key for _, key in incoming}
    return set(
        TrackingEvent.objects.filter(shipment_id__in=shipment_ids, dedupe_key__in=keys).values_list(
            "shipment_id", "dedupe_key"
        )
    )


def unmapped_codes_count(rows: Sequence[EventRow]) -> None:
    """Add the unmapped codes among new events to the per-carrier counter, atomically."""
    counts: dict[tuple[str, str], tuple[int, str, str, str]] = {}
    for row in rows:
        if row.mapped:
            continue
        key = (row.carrier.lower(), row.carrier_code)
        n = counts.get(key, (0, "", "", ""))[0]
        counts[key] = (n + 1, row.carrier_text[:500], row.status, row.mapping_version)
    if not counts:
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        for (carrier, code), (n, text, status, version) in sorted(counts.items()):
            cursor.execute(
                "INSERT INTO tracking_unmappedcarriercode (carrier, carrier_code, sample_text,"
                " mapped_to, mapping_version, occurrences, first_seen_at, last_seen_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (carrier, carrier_code) DO UPDATE SET"
                " occurrences = tracking_unmappedcarriercode.occurrences + excluded.occurrences,"
                " last_seen_at = excluded.last_seen_at, mapping_version = excluded.mapping_version",
                [carrier, code, text, status, version, n, now, now],
            )


_DERIVED_FIELDS = (
    "status",
    "status_reason",
    "action_required",
    "lifecycle",
    "status_changed_at",
    "last_event_at",
    "delivered_at",
    "stalled_at",
    "poll_failures",
    "next_check_at",
    "updated_at",
)
_DERIVED = "tracking_shipment_derived"


def derived_states_save(shipments: Sequence[Shipment]) -> None:
    """Write the derived fields of many shipments in one statement.

    On PostgreSQL: COPY (id + fields) into a temporary table, then one `UPDATE … FROM` join.
    Django's `bulk_update` builds a CASE per field and row, which costs more than the rest of a
    batch together; it remains the path on other databases.
    """
    if not shipments:
        return
    if connection.vendor != "postgresql":
        Shipment.objects.bulk_update(shipments, list(_DERIVED_FIELDS), batch_size=500)
        return
    columns = ", ".join(("id", *_DERIVED_FIELDS))
    assignments = ", ".join(f"{name} = v.{name}" for name in _DERIVED_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_DERIVED} ON COMMIT DELETE ROWS AS"  # noqa: S608
            f" SELECT {columns} FROM tracking_shipment WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {_DERIVED}")
        raw = cursor.cursor
        with raw.copy(f"COPY {_DERIVED} ({columns}) FROM STDIN") as copy:
            for s in shipments:
                copy.write_row(
                    (
                        s.pk,
                        s.status,
                        s.status_reason,
                        s.action_required,
                        s.lifecycle,
                        s.status_changed_at,
                        s.last_event_at,
                        s.delivered_at,
                        s.stalled_at,
                        s.poll_failures,
                        s.next_check_at,
                        s.updated_at,
                    )
                )
        cursor.execute(
            f"UPDATE tracking_shipment AS s SET {assignments}"  # noqa: S608 - fixed columns
            f" FROM {_DERIVED} AS v WHERE s.id = v.id"
        )
