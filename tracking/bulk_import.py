"""Bulk import of tracking events (backfills) from CSV or JSON Lines.

Columns (CSV header or JSON keys; docs/tracking.md): merchant, carrier, tracking_number,
occurred_at, status, code, description, reason, action_required, city, region, postcode, country,
estimated_delivery, ship_date. Rows are validated one by one (a bad row is rejected with its line
number and reason, the others go on), matched to shipments in batches, and written in batches.

On PostgreSQL the rows that name their carrier go set-based: a batch is COPied into a temporary
staging table, matched to shipments with one join (merchant + carrier + number + ship-date
window, the most recent fitting shipment wins), and written with one `INSERT … SELECT … ON
CONFLICT DO NOTHING`; staged rows no shipment matched are reported as rejected with their line.
Rows without a carrier (matched by the carriers their number format suggests, best first) and
every row on other databases are matched in Python and inserted ignoring conflicts. The same scan
already stored (or twice in the file) is a duplicate. Statuses of touched shipments are re-derived
at the end, in bulk.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from postpurchase.models import Merchant
from tracking.domain import ExceptionReason, Location, ParsedEvent, ShipmentStatus
from tracking.ingest import IDENTITY_GRACE, shipment_identify
from tracking.models import EventSource, Shipment, TrackingEvent
from tracking.normalisation import parsed_event_key, shipments_rederive
from tracking.services import tracking_number_normalise
from tracking.tracking_numbers import carrier_slug

COLUMNS = (
    "merchant",
    "carrier",
    "tracking_number",
    "occurred_at",
    "status",
    "code",
    "description",
    "reason",
    "action_required",
    "city",
    "region",
    "postcode",
    "country",
    "estimated_delivery",
    "ship_date",
)
REQUIRED = ("tracking_number", "occurred_at", "status")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"", "0", "false", "no", "n", "f"}
_STATUSES = frozenset(ShipmentStatus)
_REASONS = frozenset(ExceptionReason)
MAX_REJECTIONS_KEPT = 1000


class RowError(ValueError):
    """A row that cannot be imported; the message says which field and why."""


@dataclass(frozen=True)
class ImportRow:
    line: int
    merchant_slug: str
    event: ParsedEvent
    ship_date: date | None


@dataclass
class ImportSummary:
    rows: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)
    shipments_touched: int = 0
    status_changes: int = 0

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_KEPT:
            self.rejections.append((line, reason))


def _time(value: str, column: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise RowError(f"{column}: {value!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise RowError(f"{column}: {value!r} has no time zone offset (add Z or +01:00)")
    return parsed


@lru_cache(maxsize=1024)
def _carrier(name: str) -> str:
    return carrier_slug(name)


@lru_cache(maxsize=65536)
def _number(raw: str) -> str:
    return tracking_number_normalise(raw)


def parse_row(raw: dict[str, Any], line: int, default_merchant: str) -> ImportRow:
    """One input row as a parsed event, or RowError naming the bad field."""
    row = {k: ("" if v is None else str(v).strip()) for k, v in raw.items() if k}
    missing = [c for c in REQUIRED if not row.get(c)]
    if missing:
        raise RowError(f"missing {', '.join(missing)}")
    merchant = row.get("merchant") or default_merchant
    if not merchant:
        raise RowError("missing merchant (give the column or --merchant)")
    status = row["status"].lower()
    if status not in _STATUSES:
        raise RowError(f"status: {row['status']!r} is not one of {', '.join(sorted(_STATUSES))}")
    reason = row.get("reason", "").lower()
    if reason not in _REASONS:
        raise RowError(f"reason: {row['reason']!r} is not a known reason")
    action = row.get("action_required", "").lower()
    if action not in _TRUE | _FALSE:
        raise RowError(f"action_required: {row['action_required']!r} is not true/false")
    country = row.get("country", "").upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise RowError(f"country: {row['country']!r} is not a two-letter code")
    ship_date = None
    if row.get("ship_date"):
        try:
            ship_date = date.fromisoformat(row["ship_date"])
        except ValueError as exc:
            raise RowError(f"ship_date: {row['ship_date']!r} is not a date") from exc
    number = _number(row["tracking_number"])
    carrier = _carrier(row["carrier"]) if row.get("carrier") else ""
    event = ParsedEvent(
        carrier=carrier,
        tracking_number=number,
        occurred_at=_time(row["occurred_at"], "occurred_at"),
        status=ShipmentStatus(status),
        carrier_code=(row.get("code") or status)[:64],
        carrier_text=row.get("description", ""),
        reason=ExceptionReason(reason),
        action_required=action in _TRUE,
        location=Location(
            city=row.get("city", ""),
            region=row.get("region", ""),
            postcode=row.get("postcode", ""),
            country=country,
        ),
        mapping_version="import",
        estimated_delivery=_time(row["estimated_delivery"], "estimated_delivery")
        if row.get("estimated_delivery")
        else None,
    )
    return ImportRow(line, merchant, event, ship_date)


def read_rows(stream: io.TextIOBase, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row dict) per data line; a string instead of a dict is a read error."""
    if fmt == "csv":
        reader = csv.DictReader(stream)
        unknown = set(reader.fieldnames or ()) - set(COLUMNS)
        if unknown:
            raise RowError(f"unknown CSV columns: {', '.join(sorted(unknown))}")
        for record in reader:
            yield reader.line_num, record
        return
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            yield number, f"not JSON: {exc}"
            continue
        yield number, value if isinstance(value, dict) else "a JSON Lines row must be an object"


class _Importer:
    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary
        self.merchants: dict[str, int | None] = {}
        self.touched: dict[int, int] = defaultdict(int)
        self.seen: set[tuple[int, str]] = set()

    def merchant_id(self, slug: str) -> int | None:
        if slug not in self.merchants:
            self.merchants[slug] = (
                Merchant.objects.filter(slug=slug).values_list("pk", flat=True).first()
            )
        return self.merchants[slug]

    def import_batch(self, rows: list[ImportRow]) -> None:
        if connection.vendor == "postgresql":
            named = [r for r in rows if r.event.carrier]
            if named:
                self._import_staged(named)
            rows = [r for r in rows if not r.event.carrier]
            if not rows:
                return
        matched = self._match(rows)
        records: list[tuple[int, int, str, ParsedEvent]] = []
        for merchant_id, shipment, row in matched:
            key = parsed_event_key(row.event)
            if (shipment.pk, key) in self.seen:
                self.summary.duplicate += 1
                continue
            self.seen.add((shipment.pk, key))
            records.append((merchant_id, shipment.pk, key, row.event))
        inserted = _insert(records)
        self.summary.accepted += len(inserted)
        self.summary.duplicate += len(records) - len(inserted)
        for shipment_id, _ in inserted:
            self.touched[shipment_id] += 1

    def _import_staged(self, rows: list[ImportRow]) -> None:
        """COPY the batch to staging, match it to shipments with one join, insert with one
        statement; a staged line that no shipment matched is rejected with its reason."""
        staged: dict[int, tuple[int, ImportRow]] = {}
        for row in rows:
            merchant_id = self.merchant_id(row.merchant_slug)
            if merchant_id is None:
                self.summary.reject(row.line, f"merchant: no merchant {row.merchant_slug!r}")
            else:
                staged[row.line] = (merchant_id, row)
        if not staged:
            return
        matched, unmatched, inserted = _stage_and_insert(list(staged.values()))
        for line in unmatched:
            row = staged[line][1]
            self.summary.reject(
                line,
                f"no shipment of {row.event.carrier} number {row.event.tracking_number} "
                f"for merchant {row.merchant_slug}",
            )
        accepted = sum(inserted.values())
        self.summary.accepted += accepted
        self.summary.duplicate += matched - accepted
        for shipment_id, count in inserted.items():
            self.touched[shipment_id] += count

    def _match(self, rows: list[ImportRow]) -> list[tuple[int, Shipment, ImportRow]]:
        wanted: dict[int, list[ImportRow]] = defaultdict(list)
        for row in rows:
            merchant_id = self.merchant_id(row.merchant_slug)
            if merchant_id is None:
                self.summary.reject(row.line, f"merchant: no merchant {row.merchant_slug!r}")
                continue
            wanted[merchant_id].append(row)
        candidates: dict[tuple[int, str], list[Shipment]] = defaultdict(list)
        for merchant_id, merchant_rows in wanted.items():
            numbers = {r.event.tracking_number for r in merchant_rows}
            for shipment in Shipment.objects.filter(
                merchant_id=merchant_id, tracking_number__in=numbers
            ).only("pk", "carrier", "tracking_number", "shipped_at", "created_at", "merchant_id"):
                candidates[(merchant_id, shipment.tracking_number)].append(shipment)
        matched = []
        for merchant_id, merchant_rows in wanted.items():
            for row in merchant_rows:
                found = _identify(candidates[(merchant_id, row.event.tracking_number)], row)
                if found is None:
                    self.summary.reject(
                        row.line,
                        f"no shipment of {row.event.carrier or 'a fitting carrier'} "
                        f"number {row.event.tracking_number} for merchant {row.merchant_slug}",
                    )
                    continue
                if row.event.carrier != found.carrier:
                    # A number given without a carrier takes the matched shipment's carrier.
                    row = replace(row, event=replace(row.event, carrier=found.carrier))
                matched.append((merchant_id, found, row))
        return matched


def _identify(candidates: list[Shipment], row: ImportRow) -> Shipment | None:
    if row.ship_date is not None:
        # A given ship date picks among recycled numbers directly.
        anchor = datetime.combine(row.ship_date, time(12), tzinfo=UTC)
        candidates = [
            s for s in candidates if s.shipped_at is None or abs((s.shipped_at - anchor).days) <= 3
        ]
    return shipment_identify(
        candidates=candidates,
        carrier=row.event.carrier,
        number=row.event.tracking_number,
        events=[row.event],
    )


def _insert(records: list[tuple[int, int, str, ParsedEvent]]) -> list[tuple[int, str]]:
    """Write new events; the (shipment id, key) of those actually inserted."""
    if not records:
        return []
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _insert_copy(records, now)
    keys = {key for _, _, key, _ in records}
    existing = set(
        TrackingEvent.objects.filter(
            shipment_id__in={r[1] for r in records}, dedupe_key__in=keys
        ).values_list("shipment_id", "dedupe_key")
    )
    fresh = [r for r in records if (r[1], r[2]) not in existing]
    TrackingEvent.objects.bulk_create(
        [_model(r, now) for r in fresh], ignore_conflicts=True, batch_size=1000
    )
    return [(r[1], r[2]) for r in fresh]


def _model(record: tuple[int, int, str, ParsedEvent], now: datetime) -> TrackingEvent:
    merchant_id, shipment_id, key, event = record
    loc = event.location
    return TrackingEvent(
        merchant_id=merchant_id,
        shipment_id=shipment_id,
        dedupe_key=key,
        carrier=event.carrier,
        tracking_number=event.tracking_number,
        occurred_at=event.occurred_at,
        status=str(event.status),
        reason=str(event.reason),
        action_required=event.action_required,
        carrier_code=event.carrier_code,
        carrier_text=event.carrier_text,
        city=loc.city[:100],
        region=loc.region[:100],
        postcode=loc.postcode[:20],
        country=loc.country,
        mapped=True,
        mapping_version="import",
        estimated_delivery=event.estimated_delivery,
        source=EventSource.IMPORT,
        received_at=now,
    )


_COPY_COLUMNS = (
    "merchant_id",
    "shipment_id",
    "dedupe_key",
    "carrier",
    "tracking_number",
    "occurred_at",
    "status",
    "reason",
    "action_required",
    "carrier_code",
    "carrier_text",
    "city",
    "region",
    "postcode",
    "country",
    "mapped",
    "mapping_version",
    "estimated_delivery",
    "source",
    "received_at",
)


def _insert_copy(
    records: list[tuple[int, int, str, ParsedEvent]], now: datetime
) -> list[tuple[int, str]]:
    columns = ", ".join(_COPY_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tracking_event_import"  # noqa: S608 - fixed columns
            f" ON COMMIT DELETE ROWS AS SELECT {columns} FROM tracking_trackingevent WITH NO DATA"
        )
        raw = cursor.cursor  # the psycopg cursor underneath Django's wrapper
        with raw.copy(f"COPY tracking_event_import ({columns}) FROM STDIN") as copy:
            for merchant_id, shipment_id, key, event in records:
                loc = event.location
                copy.write_row(
                    (
                        merchant_id,
                        shipment_id,
                        key,
                        event.carrier,
                        event.tracking_number,
                        event.occurred_at,
                        str(event.status),
                        str(event.reason),
                        event.action_required,
                        event.carrier_code,
                        event.carrier_text,
                        loc.city[:100],
                        loc.region[:100],
                        loc.postcode[:20],
                        loc.country,
                        True,
                        "import",
                        event.estimated_delivery,
                        EventSource.IMPORT.value,
                        now,
                    )
                )
        cursor.execute(
            f"INSERT INTO tracking_trackingevent ({columns})"  # noqa: S608 - fixed column list
            f" SELECT {columns} FROM tracking_event_import"
            " ON CONFLICT (shipment_id, dedupe_key) DO NOTHING"
            " RETURNING shipment_id, dedupe_key"
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


_STAGE = "tracking_event_stage"
# The staged line, the ship-date anchor and the carrier time it is matched by, then the event.
_STAGE_COLUMNS = ("line", "ship_anchor", *_COPY_COLUMNS)
_STAGE_MATCH = f"""
UPDATE {_STAGE} AS st SET shipment_id = m.shipment_id
FROM (
    SELECT DISTINCT ON (st.line) st.line, s.id AS shipment_id
    FROM {_STAGE} AS st
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
) AS m
WHERE st.line = m.line
"""  # noqa: S608 - fixed table and columns


def _stage_and_insert(
    staged: list[tuple[int, ImportRow]],
) -> tuple[int, list[int], dict[int, int]]:
    """(rows matched, unmatched line numbers, new events per shipment) of one staged batch.

    The ship-date anchor reproduces the Python rule: a shipment shipped within three whole days
    (timedelta days, so up to four days after) of noon UTC on the given ship date.
    """
    columns = ", ".join(_COPY_COLUMNS)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS AS"  # noqa: S608
            f" SELECT 0::integer AS line, NULL::timestamptz AS ship_anchor, {columns}"
            " FROM tracking_trackingevent WITH NO DATA"
        )
        # Empty already unless the caller's transaction is still open around an earlier batch.
        cursor.execute(f"TRUNCATE {_STAGE}")
        raw = cursor.cursor  # the psycopg cursor underneath Django's wrapper
        with raw.copy(f"COPY {_STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
            for merchant_id, row in staged:
                event = row.event
                loc = event.location
                anchor = (
                    datetime.combine(row.ship_date, time(12), tzinfo=UTC)
                    if row.ship_date is not None
                    else None
                )
                copy.write_row(
                    (
                        row.line,
                        anchor,
                        merchant_id,
                        None,
                        parsed_event_key(event),
                        event.carrier,
                        event.tracking_number,
                        event.occurred_at,
                        str(event.status),
                        str(event.reason),
                        event.action_required,
                        event.carrier_code,
                        event.carrier_text,
                        loc.city[:100],
                        loc.region[:100],
                        loc.postcode[:20],
                        loc.country,
                        True,
                        "import",
                        event.estimated_delivery,
                        EventSource.IMPORT.value,
                        now,
                    )
                )
        cursor.execute(f"ANALYZE {_STAGE}")
        window: dict[str, Any] = {
            "window": settings.TRACKING_SHIPMENT_WINDOW,
            "grace": IDENTITY_GRACE,
        }
        cursor.execute(_STAGE_MATCH, window)
        matched = cursor.rowcount
        cursor.execute(f"SELECT line FROM {_STAGE} WHERE shipment_id IS NULL")  # noqa: S608
        unmatched = sorted(line for (line,) in cursor.fetchall())
        cursor.execute(
            f"WITH new AS (INSERT INTO tracking_trackingevent ({columns})"  # noqa: S608
            f" SELECT {columns} FROM {_STAGE} WHERE shipment_id IS NOT NULL ORDER BY line"
            " ON CONFLICT (shipment_id, dedupe_key) DO NOTHING RETURNING shipment_id)"
            " SELECT shipment_id, count(*) FROM new GROUP BY shipment_id"
        )
        inserted = {int(shipment_id): int(n) for shipment_id, n in cursor.fetchall()}
    return matched, unmatched, inserted


def import_tracking_events(
    *,
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    default_merchant: str = "",
    batch_size: int = 20_000,
    publish: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import rows (line number, dict) in batches and re-derive the touched shipments."""
    summary = ImportSummary()
    importer = _Importer(summary)
    batch: list[ImportRow] = []
    for line, raw in rows:
        summary.rows += 1
        if progress is not None:
            progress(1)
        if isinstance(raw, str):
            summary.reject(line, raw)
            continue
        try:
            batch.append(parse_row(raw, line, default_merchant))
        except RowError as exc:
            summary.reject(line, str(exc))
            continue
        if len(batch) >= batch_size:
            importer.import_batch(batch)
            batch = []
    if batch:
        importer.import_batch(batch)
    summary.shipments_touched = len(importer.touched)
    summary.status_changes = shipments_rederive(
        new_event_counts=dict(importer.touched), publish=publish
    )
    return summary
