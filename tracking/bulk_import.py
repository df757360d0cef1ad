"""Bulk import of tracking events (backfills) from CSV or JSON Lines.

Columns (CSV header or JSON keys; docs/tracking.md): merchant, carrier, tracking_number,
occurred_at, status, code, description, reason, action_required, city, region, postcode, country,
estimated_delivery, ship_date. Rows are validated one by one (a bad row is rejected with its line
number and reason, the others go on), matched to shipments in batches, and written in batches.

Rows travel as plain tuples in COLUMNS order (the CSV reader picks the columns by index), are
validated with precompiled lookups and get their scan key from `tracking.scan_keys`, the code
every other path uses. On PostgreSQL the rows that name their carrier then go set-based
(`tracking.import_staging`: COPY into a staging table, one statement that matches, inserts with
ON CONFLICT DO NOTHING and reports unmatched lines). Rows without a carrier (matched by the
carriers their number format suggests, best first) and every row on other databases are matched
in Python and inserted ignoring conflicts. The same scan already stored (or twice in the file) is
a duplicate. Statuses of touched shipments are re-derived at the end, in bulk.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from functools import lru_cache
from operator import itemgetter
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from postpurchase.models import Merchant
from tracking.domain import ExceptionReason, Location, ParsedEvent, ShipmentStatus
from tracking.import_staging import StagedRow, StageOutcome, stage_and_insert
from tracking.ingest import shipment_identify
from tracking.models import EventSource, ScanOrigin, Shipment, TrackingEvent
from tracking.normalisation import shipments_rederive
from tracking.scan_keys import parsed_event_key, scan_key_of
from tracking.scan_matching import match_key_for
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
    "origin",
)
REQUIRED = ("tracking_number", "occurred_at", "status")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"", "0", "false", "no", "n", "f"}
_ACTION = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
_STATUSES = frozenset(ShipmentStatus)
_STATUS_VALUE = {str(s): str(s) for s in ShipmentStatus}
_REASON_VALUE = {str(r): str(r) for r in ExceptionReason}
# Who reported the scan (matched across sources, tracking.scan_matching); the carrier by default.
_ORIGIN_VALUE = {"": ScanOrigin.CARRIER, **{o.name.lower(): o for o in ScanOrigin}}
MAX_REJECTIONS_KEPT = 1000
PROGRESS_EVERY = 1000  # rows between progress callbacks


class RowError(ValueError):
    """A row that cannot be imported; the message says which field and why."""


# One validated row: (line, merchant slug, ship date or None, carrier ("" when not given),
# number, carrier time, status, reason, action required, code, text, city, region, postcode,
# country, carrier ETA or None, origin).
Row = tuple[
    int, str, date | None, str, str, datetime, str, str, bool, str, str, str, str, str, str,
    datetime | None, int,
]  # fmt: skip


@dataclass(frozen=True)
class ImportRow:
    line: int
    merchant_slug: str
    event: ParsedEvent
    ship_date: date | None
    origin: int = ScanOrigin.CARRIER


@dataclass
class ImportSummary:
    rows: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)
    shipments_touched: int = 0
    status_changes: int = 0
    matched: int = 0  # rows found to be another source's report of a scan (one event shown)

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


@lru_cache(maxsize=4096)
def _country(raw: str) -> str:
    country = raw.upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise RowError(f"country: {raw!r} is not a two-letter code")
    return country


def parse_row(values: Sequence[str], line: int, default_merchant: str) -> Row:
    """One input row (strings in COLUMNS order) validated, or RowError naming the bad field."""
    (merchant, carrier, number, occurred, status_raw, code, text, reason_raw, action_raw, city,
     region, postcode, country, eta, ship, origin_raw) = [v.strip() for v in values]  # fmt: skip
    if not (number and occurred and status_raw):
        given = {"tracking_number": number, "occurred_at": occurred, "status": status_raw}
        raise RowError(f"missing {', '.join(c for c in REQUIRED if not given[c])}")
    merchant = merchant or default_merchant
    if not merchant:
        raise RowError("missing merchant (give the column or --merchant)")
    status = _STATUS_VALUE.get(status_raw.lower())
    if status is None:
        raise RowError(f"status: {status_raw!r} is not one of {', '.join(sorted(_STATUSES))}")
    reason = _REASON_VALUE.get(reason_raw.lower())
    if reason is None:
        raise RowError(f"reason: {reason_raw!r} is not a known reason")
    action = _ACTION.get(action_raw.lower())
    if action is None:
        raise RowError(f"action_required: {action_raw!r} is not true/false")
    origin = _ORIGIN_VALUE.get(origin_raw.lower())
    if origin is None:
        raise RowError(f"origin: {origin_raw!r} is not carrier, aggregator or other")
    ship_date = None
    if ship:
        try:
            ship_date = date.fromisoformat(ship)
        except ValueError as exc:
            raise RowError(f"ship_date: {ship!r} is not a date") from exc
    return (
        line,
        merchant,
        ship_date,
        _carrier(carrier) if carrier else "",
        _number(number),
        _time(occurred, "occurred_at"),
        status,
        reason,
        action,
        (code or status)[:64],
        text,
        city,
        region,
        postcode,
        _country(country),
        _time(eta, "estimated_delivery") if eta else None,
        origin,
    )


def _event(row: Row) -> ParsedEvent:
    return ParsedEvent(
        carrier=row[3],
        tracking_number=row[4],
        occurred_at=row[5],
        status=ShipmentStatus(row[6]),
        carrier_code=row[9],
        carrier_text=row[10],
        reason=ExceptionReason(row[7]),
        action_required=row[8],
        location=Location(city=row[11], region=row[12], postcode=row[13], country=row[14]),
        mapping_version="import",
        estimated_delivery=row[15],
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def read_rows(stream: io.TextIOBase, fmt: str) -> Iterator[tuple[int, tuple[str, ...] | str]]:
    """(line number, values in COLUMNS order) per data line; a string instead is a read error.

    CSV columns are picked by index (a short line is padded with empty values, extra values are
    ignored, as csv.DictReader would); a missing column reads as empty.
    """
    if fmt == "csv":
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            return
        unknown = set(header) - set(COLUMNS)
        if unknown:
            raise RowError(f"unknown CSV columns: {', '.join(sorted(unknown))}")
        width = len(header)
        index = {name: i for i, name in enumerate(header)}
        # One extra cell (always "") stands in for the columns the file does not have.
        pick = itemgetter(*(index.get(name, width) for name in COLUMNS))
        for record in reader:
            size = len(record)
            if size == width:
                record.append("")
            elif not size:
                continue  # a blank line
            elif size < width:
                record.extend([""] * (width + 1 - size))
            else:
                record = [*record[:width], ""]
            yield reader.line_num, pick(record)
        return
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            yield number, f"not JSON: {exc}"
            continue
        if not isinstance(value, dict):
            yield number, "a JSON Lines row must be an object"
            continue
        yield number, tuple(_text(value.get(name)) for name in COLUMNS)


class _Importer:
    """Matches and writes batches. On PostgreSQL, outside a caller's transaction, the staged
    batches are written by one writer thread on its own connection, so PostgreSQL inserts batch N
    while this thread reads and validates batch N+1 (one batch in flight; its outcome is counted
    before the next is handed over, and before any row takes the Python path)."""

    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary
        self.merchants: dict[str, int | None] = {}
        self.touched: dict[int, int] = defaultdict(int)
        self.seen: set[tuple[int, str]] = set()
        self.writer: ThreadPoolExecutor | None = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self.in_flight: tuple[Future[StageOutcome], dict[int, Row]] | None = None

    def settle(self) -> None:
        """Count the outcome of the batch in flight, if any."""
        if self.in_flight is not None:
            future, by_line = self.in_flight
            self.in_flight = None
            self._count_staged(future.result(), by_line)

    def close(self) -> None:
        if self.writer is None:
            return
        try:
            self.settle()
        finally:
            self.writer.submit(_close_connection).result()
            self.writer.shutdown()
            self.writer = None

    def merchant_id(self, slug: str) -> int | None:
        if slug not in self.merchants:
            self.merchants[slug] = (
                Merchant.objects.filter(slug=slug).values_list("pk", flat=True).first()
            )
        return self.merchants[slug]

    def import_batch(self, rows: list[Row]) -> None:
        if connection.vendor == "postgresql":
            named = [r for r in rows if r[3]]
            if named:
                self._import_staged(named)
            rows = [r for r in rows if not r[3]]
            if not rows:
                return
            self.settle()  # one connection writes at a time
        matched = self._match([ImportRow(r[0], r[1], _event(r), r[2], r[16]) for r in rows])
        records: list[tuple[int, int, str, ParsedEvent, int]] = []
        for merchant_id, shipment, row in matched:
            key = parsed_event_key(row.event)
            if (shipment.pk, key) in self.seen:
                self.summary.duplicate += 1
                continue
            self.seen.add((shipment.pk, key))
            records.append((merchant_id, shipment.pk, key, row.event, row.origin))
        inserted = _insert(records)
        self.summary.accepted += len(inserted)
        self.summary.duplicate += len(records) - len(inserted)
        for shipment_id, _ in inserted:
            self.touched[shipment_id] += 1

    def _import_staged(self, rows: list[Row]) -> None:
        """Stage the batch (with each row's scan key) and insert it set-based; a staged line
        that no shipment matched is rejected with its reason."""
        staged: list[StagedRow] = []
        by_line: dict[int, Row] = {}
        merchant_id = self.merchant_id
        for row in rows:
            merchant = merchant_id(row[1])
            if merchant is None:
                self.summary.reject(row[0], f"merchant: no merchant {row[1]!r}")
                continue
            by_line[row[0]] = row
            (line, _, ship_date, carrier, number, at, status, reason, action, code, text, city,
             region, postcode, country, eta, origin) = row  # fmt: skip
            key = scan_key_of(carrier, number, at, code, city, region, postcode, country)
            match = match_key_for(origin, at, status, city[:100], postcode[:20], country)
            staged.append(
                (line, ship_date, merchant, key, carrier, number, at, status, reason, action,
                 code, text, city[:100], region[:100], postcode[:20], country, eta, origin, match)
            )  # fmt: skip
        if not staged:
            return
        if self.writer is None:
            self._count_staged(stage_and_insert(staged), by_line)
            return
        self.settle()
        self.in_flight = (self.writer.submit(stage_and_insert, staged), by_line)

    def _count_staged(self, outcome: StageOutcome, by_line: dict[int, Row]) -> None:
        matched, unmatched, inserted = outcome
        for line in unmatched:
            row = by_line[line]
            self.summary.reject(
                line, f"no shipment of {row[3]} number {row[4]} for merchant {row[1]}"
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


def _close_connection() -> None:
    connection.close()  # run in the writer thread: closes that thread's own connection


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


def _insert(records: list[tuple[int, int, str, ParsedEvent, int]]) -> list[tuple[int, str]]:
    """Write new events; the (shipment id, key) of those actually inserted."""
    if not records:
        return []
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _insert_copy(records, now)
    keys = {r[2] for r in records}
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


def _model(record: tuple[int, int, str, ParsedEvent, int], now: datetime) -> TrackingEvent:
    merchant_id, shipment_id, key, event, origin = record
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
        origin=origin,
        match_key=_match_key(event, origin),
    )


def _match_key(event: ParsedEvent, origin: int) -> int | None:
    loc = event.location
    return match_key_for(
        origin, event.occurred_at, event.status, loc.city[:100], loc.postcode[:20], loc.country
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
    "origin",
    "match_key",
)


def _insert_copy(
    records: list[tuple[int, int, str, ParsedEvent, int]], now: datetime
) -> list[tuple[int, str]]:
    columns = ", ".join(_COPY_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tracking_event_import"  # noqa: S608 - fixed columns
            f" ON COMMIT DELETE ROWS AS SELECT {columns} FROM tracking_trackingevent WITH NO DATA"
        )
        raw = cursor.cursor  # the psycopg cursor underneath Django's wrapper
        with raw.copy(f"COPY tracking_event_import ({columns}) FROM STDIN") as copy:
            for merchant_id, shipment_id, key, event, origin in records:
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
                        origin,
                        _match_key(event, origin),
                    )
                )
        cursor.execute(
            f"INSERT INTO tracking_trackingevent ({columns})"  # noqa: S608 - fixed column list
            f" SELECT {columns} FROM tracking_event_import"
            " ON CONFLICT (shipment_id, dedupe_key) DO NOTHING"
            " RETURNING shipment_id, dedupe_key"
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


def import_tracking_events(
    *,
    rows: Iterable[tuple[int, Sequence[str] | Mapping[str, Any] | str]],
    default_merchant: str = "",
    batch_size: int = 20_000,
    publish: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import rows (line number, values) in batches and re-derive the touched shipments.

    A row is its values in COLUMNS order (as `read_rows` gives them) or a mapping by column
    name; a string is a read error for that line. `progress` hears of every PROGRESS_EVERY rows
    read (with their number) and of the rest at the end.
    """
    summary = ImportSummary()
    importer = _Importer(summary)
    try:
        _read_batches(rows, default_merchant, batch_size, progress, summary, importer)
    finally:
        importer.close()
    summary.shipments_touched = len(importer.touched)
    # Synchronous commits: they also make the batches' (asynchronous) commits durable.
    rederived = shipments_rederive(new_event_counts=dict(importer.touched), publish=publish)
    summary.status_changes = rederived.status_changes
    summary.matched = rederived.matched
    return summary


def _read_batches(
    rows: Iterable[tuple[int, Sequence[str] | Mapping[str, Any] | str]],
    default_merchant: str,
    batch_size: int,
    progress: Callable[[int], None] | None,
    summary: ImportSummary,
    importer: _Importer,
) -> None:
    batch: list[Row] = []
    unreported = 0
    for line, raw in rows:
        summary.rows += 1
        unreported += 1
        if progress is not None and unreported >= PROGRESS_EVERY:
            progress(unreported)
            unreported = 0
        if isinstance(raw, str):
            summary.reject(line, raw)
            continue
        if isinstance(raw, Mapping):
            raw = tuple(_text(raw.get(name)) for name in COLUMNS)
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
    if progress is not None and unreported:
        progress(unreported)
