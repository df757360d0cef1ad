"""Carrier events in: webhook edge vs a bare view, worker throughput, bulk import, latency.

    .venv/bin/python benchmarks/ingest.py --json [--duration 10] [--requests 20000]

Needs PostgreSQL and Redis (defaults: postgres://postgres@127.0.0.1:5432/bench_ingest, which is
dropped and recreated, and redis://127.0.0.1:6379/3, which is flushed). Phases:

1. **Edge**: gunicorn (`--gunicorn-workers` gthread workers x `--gunicorn-threads`) serves the
   project with one extra URL, a bare Django JSON view
   that reads the body (benchmarks/ingest_urls.py). After warming both paths, a separate load
   process on loopback POSTs the signed generic-format bodies to the bare view, then the same
   bodies as webhooks, each for at most `--duration` s / `--requests` requests, with
   `--concurrency` client threads and a new connection per request. No worker runs yet, so the
   edge is measured alone: `webhook_rps / bare_rps` is `webhook_ratio`. gthread workers are the
   deployed configuration (docs/operations.md): a webhook waits on its commit's flush, and
   threads overlap those waits.
2. **Worker**: a real `celery worker` (prefork, `--worker-concurrency` processes) on the ingest
   queue (`TRACKING_INGEST_QUEUE=ingest`) starts and drains the stored backlog. Each batch pays for
   its domain events (outbox rows and their dispatch messages); the handlers those messages run
   (estimates, notifications) belong to workers on the default queue and are not run here.
   `normalised_events_per_s` = scan events in the processed webhooks (each
   webhook carries its shipment's last `--history` scans plus a new one, as aggregators resend
   history) over the window from the first claim to the last processed commit (row timestamps);
   `new_events_per_s` counts only the scans that were new.
3. **Bulk import**: a CSV of `--import-rows` scans is imported with the product's importer (COPY +
   INSERT … ON CONFLICT), timed in-process, statuses re-derived included.
4. **Latency**: with the worker running, webhooks are sent at `--latency-rate` per second for
   `--latency-seconds`; latency is `processed_at - received_at` per webhook (accepted to status
   updated, both stamped by the platform on this machine), p50 and p95.

The last line printed is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty, Queue
from typing import Any

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402 (after sys.path)
    django_ready,
    ensure_database,
    flush_redis,
    free_port,
    stop,
    wait_for_http,
)

SECRET = "bench-generic-secret-0123456789"  # noqa: S105 - a benchmark fixture
MERCHANT = "bench"
STEPS = ["info_received", "in_transit", "in_transit", "in_transit", "out_for_delivery", "delivered"]
BASE_TIME = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON last")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_ingest")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=8, help="gthread threads each")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16, help="client threads")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per edge phase")
    parser.add_argument("--requests", type=int, default=20_000, help="max requests per phase")
    parser.add_argument("--shipments", type=int, default=4000)
    parser.add_argument("--history", type=int, default=4, help="earlier scans resent per webhook")
    parser.add_argument("--import-rows", type=int, default=200_000)
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    return parser.parse_args()


# --- environment ---------------------------------------------------------------------------------


def service_env(args: argparse.Namespace, settings_module: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CACHE_URL": args.redis_url.replace("redis://", "rediscache://", 1),
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        # Webhook processing on a queue of its own, drained by the benchmark's worker; domain
        # event handlers (estimates, notifications) stay on the default queue, not run here.
        "TRACKING_INGEST_QUEUE": "ingest",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


def gunicorn_command(port: int, workers: int, threads: int) -> list[str]:
    """How the edge is served in every edge benchmark: gthread workers, as the image runs it."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "benchmarks.ingest_wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--log-level",
        "warning",
    ]


# --- data ----------------------------------------------------------------------------------------


def bench_orders(merchant: Any, customer: Any, count: int) -> list[Any]:
    """`count` one-item orders of the customer, placed the day before the benchmark's scans."""
    from decimal import Decimal

    from commerce.models import Order

    return Order.objects.bulk_create(
        Order(
            merchant=merchant,
            number=str(100000 + i),
            external_id=f"o{i}",
            customer=customer,
            placed_at=BASE_TIME - timedelta(days=1),
            currency="USD",
            subtotal=Decimal("10"),
            total=Decimal("10"),
            shipping_country="US",
        )
        for i in range(count)
    )


def seed(shipments: int) -> list[str]:
    """One merchant with a generic webhook secret, `shipments` UPS shipments; their numbers."""

    from commerce.models import Customer
    from postpurchase.models import Merchant
    from tracking.models import Shipment
    from tracking.webhooks.secrets import webhook_secret_add

    merchant = Merchant.objects.create(name="Bench store", slug=MERCHANT)
    webhook_secret_add(merchant=merchant, source="generic", secret=SECRET)
    customer = Customer.objects.create(merchant=merchant, email="shopper@bench.example")
    orders = bench_orders(merchant, customer, shipments)
    numbers = [f"1ZBENCH{i:011d}" for i in range(shipments)]
    Shipment.objects.bulk_create(
        Shipment(
            merchant=merchant,
            order=order,
            carrier="ups",
            tracking_number=number,
            destination_country="US",
            shipped_at=BASE_TIME,
            next_check_at=BASE_TIME + timedelta(days=365),  # keep the poller out of the way
        )
        for order, number in zip(orders, numbers, strict=True)
    )
    return numbers


def scan(step: int, day_offset: int = 0) -> dict[str, object]:
    at = BASE_TIME + timedelta(days=day_offset, hours=6 * step)
    return {
        "occurred_at": at.isoformat(),
        "status": STEPS[min(step, len(STEPS) - 1)],
        "code": f"S{step}",
        "text": f"scan {step}",
        "location": {"city": f"Hub {step}", "region": "KY", "country": "US"},
    }


def webhook_bodies(
    numbers: list[str], count: int, history: int, prefix: str, first_step: int = 0
) -> list[tuple[bytes, int]]:
    """`count` generic webhooks round-robin over the shipments; (body, events in it)."""
    bodies = []
    for i in range(count):
        number = numbers[i % len(numbers)]
        step = first_step + i // len(numbers)
        events = [scan(s) for s in range(max(0, step - history), step + 1)]
        body = json.dumps(
            {
                "event_id": f"{prefix}-{i}",
                "carrier": "ups",
                "tracking_number": number,
                "events": events,
            },
            separators=(",", ":"),
        ).encode()
        bodies.append((body, len(events)))
    return bodies


def sign(body: bytes) -> str:
    t = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


# --- load ----------------------------------------------------------------------------------------


def load_process(
    port: int,
    path: str,
    bodies: list[bytes],
    concurrency: int,
    duration: float,
    rate: float,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    """POST each body once (signing just before), `concurrency` threads; report counts."""
    work: Queue[tuple[int, bytes]] = Queue()
    for item in enumerate(bodies):
        work.put(item)
    ok = errors = 0
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + duration

    def client() -> None:
        nonlocal ok, errors
        while time.monotonic() < deadline:
            try:
                index, body = work.get_nowait()
            except Empty:
                return
            if rate:
                due = started + index / rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request(
                    "POST",
                    path,
                    body=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Postpurchase-Signature": sign(body),
                    },
                )
                response = conn.getresponse()
                response.read()
                good = 200 <= response.status < 300
            except OSError:
                good = False
            finally:
                conn.close()
            with lock:
                if good:
                    ok += 1
                else:
                    errors += 1

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put({"ok": ok, "errors": errors, "seconds": time.monotonic() - started})


def drive(
    port: int, path: str, bodies: list[bytes], args: argparse.Namespace, rate: float = 0.0
) -> dict[str, float]:
    """Run the load in a separate process (the client must not share the server's GIL)."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    duration = args.latency_seconds if rate else args.duration
    process = ctx.Process(
        target=load_process,
        args=(port, path, bodies, args.concurrency, duration, rate, results),
    )
    process.start()
    outcome = results.get(timeout=duration + 120)
    process.join(timeout=30)
    outcome["rps"] = outcome["ok"] / outcome["seconds"] if outcome["seconds"] else 0.0
    return outcome


# --- phases --------------------------------------------------------------------------------------


def drain(timeout: float, bar_total: int) -> None:
    from tracking.models import InboundWebhook, InboundWebhookState

    pending = (InboundWebhookState.RECEIVED, InboundWebhookState.PROCESSING)
    deadline = time.monotonic() + timeout
    with tqdm(total=bar_total, desc="worker drain", unit="hook", leave=False) as bar:
        while time.monotonic() < deadline:
            left = InboundWebhook.objects.filter(state__in=pending).count()
            bar.n = bar_total - left
            bar.refresh()
            if left == 0:
                return
            time.sleep(0.5)
    raise RuntimeError(f"webhooks still pending after {timeout:.0f}s")


def worker_figures(first_id: int, events_per_hook: dict[str, int]) -> dict[str, float]:
    from django.db.models import Max, Min, Sum

    from tracking.models import InboundWebhook

    hooks = InboundWebhook.objects.filter(pk__gte=first_id)
    window = hooks.aggregate(start=Min("claimed_at"), end=Max("processed_at"))
    seconds = (window["end"] - window["start"]).total_seconds()
    normalised = sum(events_per_hook[k] for k in hooks.values_list("unique_key", flat=True))
    new = hooks.aggregate(n=Sum("events_new"))["n"] or 0
    failed = hooks.filter(state="failed").count()
    return {
        "webhooks": hooks.count(),
        "failed": failed,
        "events": normalised,
        "new_events": new,
        "seconds": seconds,
        "normalised_events_per_s": normalised / seconds if seconds else 0.0,
        "new_events_per_s": new / seconds if seconds else 0.0,
    }


def bulk_import(numbers: list[str], rows: int) -> dict[str, float]:
    from tracking.bulk_import import import_tracking_events, read_rows

    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["merchant", "carrier", "tracking_number", "occurred_at", "status", "code",
                         "description", "city", "region", "country"])  # fmt: skip
        for i in tqdm(range(rows), desc="write CSV", unit="row", leave=False):
            number = numbers[i % len(numbers)]
            step = i // len(numbers)
            at = BASE_TIME + timedelta(days=30, minutes=7 * step)
            writer.writerow([MERCHANT, "UPS", number, at.isoformat(), "in_transit", f"I{step}",
                             "imported scan", f"Depot {step % 50}", "KY", "US"])  # fmt: skip
        path = handle.name
    try:
        with (
            open(path, encoding="utf-8", newline="") as stream,
            tqdm(total=rows, desc="bulk import", unit="row", leave=False) as bar,
        ):
            started = time.perf_counter()
            summary = import_tracking_events(
                rows=read_rows(stream, "csv"), progress=bar.update, batch_size=20_000
            )
            seconds = time.perf_counter() - started
    finally:
        os.unlink(path)
    return {
        "rows": summary.rows,
        "accepted": summary.accepted,
        "rejected": summary.rejected,
        "seconds": seconds,
        "bulk_events_per_s": summary.accepted / seconds if seconds else 0.0,
    }


def latency(first_id: int) -> dict[str, float]:
    from tracking.models import InboundWebhook

    rows = InboundWebhook.objects.filter(pk__gte=first_id, processed_at__isnull=False)
    samples = sorted(
        (done - received).total_seconds()
        for received, done in rows.values_list("received_at", "processed_at")
    )
    if not samples:
        return {"latency_p50_s": float("nan"), "latency_p95_s": float("nan"), "samples": 0}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"latency_p50_s": cuts[49], "latency_p95_s": cuts[94], "samples": len(samples)}


def next_id() -> int:
    from django.db.models import Max

    from tracking.models import InboundWebhook

    return (InboundWebhook.objects.aggregate(m=Max("id"))["m"] or 0) + 1


def main() -> None:
    args = parse_args()
    port = args.port or free_port()
    ensure_database(args.database_url, drop=True)
    flush_redis(args.redis_url)
    env = service_env(args, "postpurchase.settings")
    django_ready(env, ROOT)
    numbers = seed(args.shipments)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    gunicorn = subprocess.Popen(
        gunicorn_command(port, args.gunicorn_workers, args.gunicorn_threads),
        cwd=ROOT,
        env=service_env(args, "benchmarks.ingest_settings"),
        stdout=(log_dir / "gunicorn.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker: subprocess.Popen[bytes] | None = None
    results: dict[str, object] = {}
    try:
        wait_for_http(port, "/healthz")
        edge_count = args.requests
        hooks = webhook_bodies(numbers, edge_count, args.history, "edge")
        events_per_hook = {f"edge-{i}": n for i, (_, n) in enumerate(hooks)}
        # Warm both code paths (imports, each thread's database, cache and broker connections)
        # before timing, so neither phase pays start-up costs the other does not.
        drive(port, "/bench/bare/", [b"{}"] * 200, args)
        warm = webhook_bodies(numbers, 200, args.history, "warm")
        drive(port, f"/webhooks/generic/{MERCHANT}/", [body for body, _ in warm], args)
        bare = drive(port, "/bench/bare/", [body for body, _ in hooks], args)
        first_edge = next_id()
        webhook = drive(port, f"/webhooks/generic/{MERCHANT}/", [body for body, _ in hooks], args)
        results.update(
            bare_rps=bare["rps"],
            webhook_rps=webhook["rps"],
            webhook_ratio=webhook["rps"] / bare["rps"] if bare["rps"] else 0.0,
            bare_errors=bare["errors"],
            webhook_errors=webhook["errors"],
        )
        stored = int(webhook["ok"])
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "postpurchase",
                "worker",
                "--pool",
                "prefork",
                "--queues",
                "ingest",
                "--concurrency",
                str(args.worker_concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=(log_dir / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # What the beat's webhooks_sweep would do if a broker message went missing meanwhile.
        from tracking.tasks import webhook_process

        webhook_process.apply_async(queue="ingest")
        drain(args.drain_timeout, stored + len(warm))
        figures = worker_figures(first_edge, events_per_hook)
        results.update(
            normalised_events_per_s=figures["normalised_events_per_s"],
            new_events_per_s=figures["new_events_per_s"],
            worker_webhooks=figures["webhooks"],
            worker_failed=figures["failed"],
            worker_events=figures["events"],
            worker_seconds=figures["seconds"],
        )
        steps_done = stored // len(numbers) + 1
        count = int(args.latency_rate * args.latency_seconds)
        late = webhook_bodies(numbers, count, args.history, "lat", first_step=steps_done)
        first_late = next_id()
        drive(
            port,
            f"/webhooks/generic/{MERCHANT}/",
            [body for body, _ in late],
            args,
            rate=args.latency_rate,
        )
        drain(args.drain_timeout, count)
        results.update(latency(first_late))
        stop(worker)
        worker = None
        imported = bulk_import(numbers, args.import_rows)
        results.update(
            bulk_events_per_s=imported["bulk_events_per_s"],
            bulk_rows=imported["rows"],
            bulk_seconds=imported["seconds"],
        )
    finally:
        if worker is not None:
            stop(worker)
        stop(gunicorn)
    results.update(
        concurrency=args.concurrency,
        gunicorn_workers=args.gunicorn_workers,
        gunicorn_threads=args.gunicorn_threads,
        worker_concurrency=args.worker_concurrency,
        history=args.history,
        cpu_count=os.cpu_count(),
        logs=str(log_dir),
    )
    for key, value in results.items():
        if isinstance(value, float):
            results[key] = round(value, 4)
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
