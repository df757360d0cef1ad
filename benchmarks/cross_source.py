"""CPU per normalised event of the worker's recording step, by scan origin (cross-source matching).

    .venv/bin/python benchmarks/cross_source.py --json [--shipments 1000] [--rounds 3]

Calls `tracking.normalisation.shipments_record_events` in-process the way the webhook worker
does (batches of `--batch` webhooks, each re-sending its shipment's last `--history` scans plus a
new one) and measures CPU time, not wall time (the machine is shared): this process's
(`time.process_time`) and the PostgreSQL backend's (`/proc/<pg_backend_pid>/stat`), per event
received. Modes, each on shipments of its own, interleaved round by round:

- `other`: scans of our generic format (no match key), what `benchmarks/ingest.py` sends;
- `aggregator`: an aggregator's scans (a match key each), no carrier scans stored;
- `matched`: an aggregator's scans on shipments whose carrier scans are stored already, so every
  new report is matched (the pairing runs and links are written).

On a checkout without cross-source matching (an A/B against it) every mode runs the same data
without origins: `matched` then stores and shows both reports of each scan. Needs
PostgreSQL (default postgres://postgres@127.0.0.1:5432/bench_cross_source, dropped and recreated)
and a Redis broker for the outbox's dispatch messages (redis://127.0.0.1:6379/3, flushed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import django_ready, ensure_database, flush_redis  # noqa: E402 (after sys.path)
from benchmarks.ingest import bench_orders  # noqa: E402

BASE_TIME = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
STEPS = ["info_received", "in_transit", "in_transit", "in_transit", "out_for_delivery", "delivered"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON last")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_cross_source"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--shipments", type=int, default=1000, help="per mode")
    parser.add_argument("--batch", type=int, default=250, help="webhooks per batch")
    parser.add_argument("--history", type=int, default=4)
    parser.add_argument("--steps", type=int, default=6, help="scans per shipment")
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def seed(prefix: str, count: int) -> list[object]:

    from commerce.models import Customer
    from postpurchase.models import Merchant
    from tracking.models import Shipment

    merchant = Merchant.objects.create(name=f"Bench {prefix}", slug=f"bench-{prefix}")
    customer = Customer.objects.create(merchant=merchant, email=f"{prefix}@bench.example")
    orders = bench_orders(merchant, customer, count)
    return list(
        Shipment.objects.bulk_create(
            Shipment(
                merchant=merchant,
                order=order,
                carrier="usps",
                tracking_number=f"9400{prefix[:2].upper()}{i:012d}",
                destination_country="US",
                shipped_at=BASE_TIME,
            )
            for i, order in enumerate(orders)
        )
    )


def event(shipment: object, step: int, code_prefix: str) -> object:
    from tracking.domain import Location, ParsedEvent, ShipmentStatus

    return ParsedEvent(
        carrier="usps",
        tracking_number=shipment.tracking_number,
        occurred_at=BASE_TIME + timedelta(hours=6 * step, seconds=17),
        status=ShipmentStatus(STEPS[min(step, len(STEPS) - 1)]),
        carrier_code=f"{code_prefix}{step}",
        carrier_text=f"scan {step}",
        location=Location(city=f"Hub {step}", region="KY", postcode="40201", country="US"),
    )


def item(shipment: object, events: list[object], origin_name: str) -> object:
    from tracking.models import EventSource
    from tracking.normalisation import ShipmentEvents

    if origin_name == "other" or "origin" not in ShipmentEvents.__dataclass_fields__:
        return ShipmentEvents(shipment, events, EventSource.WEBHOOK)
    from tracking.models import ScanOrigin

    origin = ScanOrigin.CARRIER if origin_name == "carrier" else ScanOrigin.AGGREGATOR
    return ShipmentEvents(shipment, events, EventSource.WEBHOOK, origin)


def backend_cpu(cursor: object) -> float:
    cursor.execute("SELECT pg_backend_pid()")
    pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_mode(shipments: list[object], origin_name: str, args: argparse.Namespace) -> list[float]:
    """(process CPU s, backend CPU s, events) of recording every step on every shipment."""
    from django.db import connection

    from tracking.normalisation import shipments_record_events

    python = backend = 0.0
    events = 0
    with connection.cursor() as cursor:
        for step in range(args.steps):
            for start in range(0, len(shipments), args.batch):
                part = shipments[start : start + args.batch]
                first = max(0, step - args.history)
                batch = [
                    item(s, [event(s, k, "AS") for k in range(first, step + 1)], origin_name)
                    for s in part
                ]
                cpu0, pg0 = time.process_time(), backend_cpu(cursor)
                shipments_record_events(batch=batch)
                python += time.process_time() - cpu0
                backend += backend_cpu(cursor) - pg0
                events += sum(len(b.events) for b in batch)
    return [python, backend, events]


def main() -> None:
    args = parse_args()
    ensure_database(args.database_url, drop=True)
    flush_redis(args.redis_url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "postpurchase.settings",
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "TRACKING_INGEST_QUEUE": "ingest",
    }
    django_ready(env, ROOT)
    from tracking.normalisation import shipments_record_events

    modes = ["other", "aggregator", "matched"]
    totals = {mode: [0.0, 0.0, 0] for mode in modes}
    for round_no in range(args.rounds):
        for mode in modes:
            shipments = seed(f"{mode[:2]}{round_no}", args.shipments)
            if mode == "matched":
                for start in range(0, len(shipments), args.batch):
                    part = shipments[start : start + args.batch]
                    batch = [
                        item(s, [event(s, k, "US") for k in range(args.steps)], "carrier")
                        for s in part
                    ]
                    shipments_record_events(batch=batch)
            python, backend, events = run_mode(
                shipments, "other" if mode == "other" else "aggregator", args
            )
            for i, value in enumerate((python, backend, events)):
                totals[mode][i] += value
            print(
                f"round {round_no} {mode}: {python / events * 1e6:.1f} µs python,"
                f" {backend / events * 1e6:.1f} µs postgres per event ({events} events)",
                file=sys.stderr,
            )
    results = {
        mode: {
            "python_us_per_event": round(python / events * 1e6, 1),
            "postgres_us_per_event": round(backend / events * 1e6, 1),
            "events": int(events),
        }
        for mode, (python, backend, events) in totals.items()
    }
    results["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
