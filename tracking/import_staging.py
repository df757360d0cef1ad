"""The set-based half of the bulk import on PostgreSQL: COPY, match, insert in one statement.

A batch of validated rows that name their carrier (with their scan key, computed by the same
code as every other path) is COPied into a temporary staging table. One statement then matches
each staged line to its shipment (merchant + carrier + number + ship-date window, the most recent
fitting shipment wins, as `ingest.shipment_identify`), inserts the matched rows with
`ON CONFLICT (shipment_id, dedupe_key) DO NOTHING` in shipment then line order (so of a scan
given twice the first line is kept, and each shipment's index entries are written together),
and returns the new events per shipment, how many lines matched and which did not. Nothing is
updated in the staging table (an UPDATE would write every staged row twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tracking.ingest import IDENTITY_GRACE
from tracking.models import EventSource

STAGE = "tracking_event_stage"

# What is COPied per row; the constant columns are filled in by the INSERT. Text columns, so a
# carrier or number too long for any shipment is staged, matches nothing and is reported.
STAGE_COLUMNS = (
    ("line", "integer"),
    ("ship_anchor", "timestamptz"),
    ("merchant_id", "bigint"),
    ("dedupe_key", "text"),
    ("carrier", "text"),
    ("tracking_number", "text"),
    ("occurred_at", "timestamptz"),
    ("status", "text"),
    ("reason", "text"),
    ("action_required", "boolean"),
    ("carrier_code", "text"),
    ("carrier_text", "text"),
    ("city", "text"),
    ("region", "text"),
    ("postcode", "text"),
    ("country", "text"),
    ("estimated_delivery", "timestamptz"),
    ("origin", "smallint"),
    ("match_key", "bigint"),
)
_STAGED = ", ".join(name for name, _ in STAGE_COLUMNS)
_EVENT_COPIED = (
    "merchant_id, dedupe_key, carrier, tracking_number, occurred_at, status, reason,"
    " action_required, carrier_code, carrier_text, city, region, postcode, country,"
    " estimated_delivery, origin, match_key"
)
_INSERT = f"""
WITH m AS MATERIALIZED (
    SELECT DISTINCT ON (st.line) st.line, s.id AS shipment_id
    FROM {STAGE} AS st
    JOIN tracking_shipment AS s
      ON s.merchant_id = st.merchant_id
     AND s.carrier = st.carrier
     AND s.tracking_number = st.tracking_number
     AND COALESCE(s.shipped_at, s.created_at) BETWEEN st.occurred_at - %(window)s
                                                  AND st.occurred_at + %(grace)s
     AND (st.ship_anchor IS NULL OR s.shipped_at IS NULL
          OR (s.shipped_at >= st.ship_anchor - interval '3 days'
              AND s.shipped_at < st.ship_anchor + interval '4 days'))
    ORDER BY st.line, COALESCE(s.shipped_at, s.created_at) DESC, s.id DESC
), new AS (
    INSERT INTO tracking_trackingevent (shipment_id, {_EVENT_COPIED},
                                        mapped, mapping_version, source, received_at)
    SELECT m.shipment_id, {", ".join("st." + c.strip() for c in _EVENT_COPIED.split(","))},
           true, 'import', %(source)s, %(now)s
    FROM {STAGE} AS st JOIN m ON m.line = st.line
    ORDER BY m.shipment_id, st.line
    ON CONFLICT (shipment_id, dedupe_key) DO NOTHING
    RETURNING shipment_id
)
SELECT 'new', shipment_id, count(*) FROM new GROUP BY shipment_id
UNION ALL SELECT 'matched', count(*), 0 FROM m
UNION ALL SELECT 'unmatched', st.line, 0 FROM {STAGE} AS st
          WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.line = st.line)
"""  # noqa: S608 - fixed table and column names

# One staged row: (line, ship date or None, merchant id, scan key, carrier, number, carrier time,
# status, reason, action required, code, text, city, region, postcode, country, carrier ETA,
# origin, match key or None).
StagedRow = tuple[
    int, date | None, int, str, str, str, datetime, str, str, bool, str, str, str, str, str, str,
    datetime | None, int, int | None,
]  # fmt: skip


def _anchor(ship_date: date | None) -> datetime | None:
    # The Python rule: shipped within three whole days (timedelta days, so up to four days
    # after) of noon UTC on the given ship date.
    return None if ship_date is None else datetime.combine(ship_date, time(12), tzinfo=UTC)


# (lines matched, unmatched line numbers, new events per shipment)
StageOutcome = tuple[int, list[int], dict[int, int]]


def stage_and_insert(rows: Sequence[StagedRow]) -> StageOutcome:
    """(lines matched, unmatched line numbers, new events per shipment) of one batch.

    When it is a transaction of its own, the batch commits without waiting for the WAL flush
    (`synchronous_commit = off` for this transaction only): the import's last transactions (the
    status re-derivation) commit synchronously, which flushes everything before them, so when
    the command reports, every accepted row is durable; a crash before that fails the command,
    and a rerun is idempotent.
    """
    new: dict[int, int] = {}
    matched = 0
    unmatched: list[int] = []
    # Only for a transaction of its own: inside a caller's transaction SET LOCAL would last until
    # the caller's commit, which nothing after it would flush.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if own_transaction:
            cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ("
            + ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS)
            + ") ON COMMIT DELETE ROWS"
        )
        # Empty already unless the caller's transaction is still open around an earlier batch.
        cursor.execute(f"TRUNCATE {STAGE}")
        raw = cursor.cursor  # the psycopg cursor underneath Django's wrapper
        with raw.copy(f"COPY {STAGE} ({_STAGED}) FROM STDIN") as copy:
            write = copy.write_row
            for row in rows:
                write((row[0], _anchor(row[1]), *row[2:]))
        params: dict[str, Any] = {
            "window": settings.TRACKING_SHIPMENT_WINDOW,
            "grace": IDENTITY_GRACE,
            "source": EventSource.IMPORT.value,
            "now": timezone.now(),
        }
        cursor.execute(_INSERT, params)
        for kind, value, count in cursor.fetchall():
            if kind == "new":
                new[int(value)] = int(count)
            elif kind == "matched":
                matched = int(value)
            else:
                unmatched.append(int(value))
    return matched, sorted(unmatched), new
