"""The bulk-import phase of `benchmarks/ingest.py` alone, with CPU time per row of each side.

    .venv/bin/python benchmarks/import_cpu.py --database-url postgres://…/bench_import \
        [--tree /path/to/other/checkout] [--rows 200000] [--shipments 4000] [--history 5]

Drops and recreates the database, migrates it with the tree's own migrations, seeds the same
merchant and shipments as `ingest.py`, records `--history` scans per shipment through the
worker's recording path (as the webhook phase leaves them), then imports the same CSV as
`ingest.py`'s import phase with the tree's `import_tracking_events` (the command's code),
in-process. `--tree` runs another checkout's code (an A/B against the main branch on a shared
machine): its directory goes first on `sys.path`.

It also reports the CPU per event of recording that history (the worker's path). Besides wall
time and events/s it reports the CPU seconds of this Python process (all threads)
and of the PostgreSQL backends serving it (from /proc, sampled every 20 ms and read once more
just before the writer's connection closes), per accepted row, and the load average before and
after: on a shared machine CPU per row moves far less than wall time. The last line is JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_import")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--tree", type=Path, default=HERE, help="checkout whose code runs")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--shipments", type=int, default=4000)
    parser.add_argument("--history", type=int, default=5, help="scans recorded per shipment first")
    return parser.parse_args()


def _cpu_of(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class BackendCpu:
    """CPU seconds of every backend connected to one database, sampled from /proc."""

    def __init__(self, dsn: str, database: str) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn, autocommit=True)
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.own_pid = self.conn.info.backend_pid
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        pids = [
            pid
            for (pid,) in self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                [self.database, self.own_pid],
            )
        ]
        for pid in pids:
            self.note(pid)

    def note(self, pid: int) -> None:
        cpu = _cpu_of(pid)
        if cpu is None:
            return
        self.first.setdefault(pid, cpu)
        self.last[pid] = cpu

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.sample()

    def start(self) -> None:
        self.sample()
        self.thread.start()

    def finish(self) -> float:
        self.stop.set()
        self.thread.join()
        self.sample()
        self.conn.close()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def _cpu(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def write_csv(ingest: Any, numbers: list[str], rows: int) -> str:
    """The CSV of `ingest.bulk_import`, row for row."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["merchant", "carrier", "tracking_number", "occurred_at", "status", "code",
                         "description", "city", "region", "country"])  # fmt: skip
        for i in range(rows):
            number = numbers[i % len(numbers)]
            step = i // len(numbers)
            at = ingest.BASE_TIME + timedelta(days=30, minutes=7 * step)
            writer.writerow([ingest.MERCHANT, "UPS", number, at.isoformat(), "in_transit",
                             f"I{step}", "imported scan", f"Depot {step % 50}", "KY",
                             "US"])  # fmt: skip
        return handle.name


def main() -> None:
    args = parse_args()
    tree = args.tree.resolve()
    os.chdir(tree)  # something in the project's start-up puts the working directory first
    sys.path.insert(0, str(tree))
    from benchmarks.harness import django_ready, ensure_database, flush_redis

    ensure_database(args.database_url, drop=True)
    flush_redis(args.redis_url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "postpurchase.settings",
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CACHE_URL": args.redis_url.replace("redis://", "rediscache://", 1),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(tree),
    }
    django_ready(env, tree)
    import tracking

    assert Path(tracking.__file__).resolve().is_relative_to(tree), tracking.__file__
    from benchmarks import ingest  # the shared seed and import phase
    from tracking import bulk_import
    from tracking.domain import Location, ParsedEvent, ShipmentStatus
    from tracking.models import EventSource, Shipment
    from tracking.normalisation import ShipmentEvents, shipments_record_events

    numbers = ingest.seed(args.shipments)
    shipments = list(Shipment.objects.order_by("pk"))
    database = args.database_url.rsplit("/", 1)[1]
    admin_dsn = args.database_url.rsplit("/", 1)[0] + "/postgres"
    record_cpu = BackendCpu(admin_dsn, database)
    record_cpu.start()
    record_before = resource.getrusage(resource.RUSAGE_SELF)
    for start in range(0, len(shipments), 500):
        batch = [
            ShipmentEvents(
                s,
                [
                    ParsedEvent(
                        carrier="ups",
                        tracking_number=s.tracking_number,
                        occurred_at=ingest.BASE_TIME + timedelta(hours=6 * step),
                        status=ShipmentStatus(ingest.STEPS[min(step, len(ingest.STEPS) - 1)]),
                        carrier_code=f"S{step}",
                        carrier_text=f"scan {step}",
                        location=Location(city=f"Hub {step}", region="KY", country="US"),
                    )
                    for step in range(args.history)
                ],
                EventSource.WEBHOOK,
            )
            for s in shipments[start : start + 500]
        ]
        shipments_record_events(batch=batch)
    record_after = resource.getrusage(resource.RUSAGE_SELF)
    record_backend = record_cpu.finish()
    recorded = max(1, len(shipments) * args.history)

    from django.db import connection

    cpu = BackendCpu(admin_dsn, database)
    original_close = bulk_import._close_connection

    def close_noting_cpu() -> None:
        if connection.connection is not None:
            cpu.note(connection.connection.info.backend_pid)
        original_close()

    bulk_import._close_connection = close_noting_cpu  # type: ignore[assignment]
    path = write_csv(ingest, numbers, args.rows)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    cpu.start()
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with open(path, encoding="utf-8", newline="") as stream:
            started = time.perf_counter()
            summary = bulk_import.import_tracking_events(
                rows=bulk_import.read_rows(stream, "csv"), batch_size=20_000
            )
            seconds = time.perf_counter() - started
    finally:
        os.unlink(path)
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    backend = cpu.finish()
    result = {"rows": summary.rows, "accepted": summary.accepted, "seconds": seconds}
    result["bulk_events_per_s"] = summary.accepted / seconds
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    python = _cpu(own_before, own_after)
    accepted = result["accepted"] or 1
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True
    ).stdout.strip()
    print(
        json.dumps(
            {
                "tree": str(tree),
                "commit": commit,
                "rows": result["rows"],
                "accepted": result["accepted"],
                "seconds": round(result["seconds"], 3),
                "bulk_events_per_s": round(result["bulk_events_per_s"], 1),
                "python_cpu_us_per_row": round(python / accepted * 1e6, 2),
                "backend_cpu_us_per_row": round(backend / accepted * 1e6, 2),
                # The recording path (the worker's `shipments_record_events`, batches of 500
                # shipments) while seeding the history: CPU per recorded event.
                "record_python_cpu_us_per_event": round(
                    _cpu(record_before, record_after) / recorded * 1e6, 2
                ),
                "record_backend_cpu_us_per_event": round(record_backend / recorded * 1e6, 2),
                "load_before": load_before,
                "load_after": load_after,
            }
        )
    )


if __name__ == "__main__":
    main()
