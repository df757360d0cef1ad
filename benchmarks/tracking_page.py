"""Tracking page: throughput beside a bare Django JSON view, p95 at half load, queries per page.

    .venv/bin/python benchmarks/tracking_page.py --json [--shipments 100000] [--duration 15]

Needs PostgreSQL (default postgres://postgres@127.0.0.1:5432/bench_trackpage: created and filled
when it does not already hold this scale, `--regenerate` to rebuild) and, for the page cache,
Redis (default rediscache://127.0.0.1:6379/4; emptied after new data, with `--flush-cache`, or
with `--no-render-ahead`; `--cache-url locmemcache://` for none).

1. **Data**: one merchant; `--shipments` orders (two lines each, one shipment each) of
   `--shipments / 2` customers over 1,000 products; `--events-per-shipment` scans per shipment.
   Written with COPY, so 100,000 shipments and 1,000,000 events take a minute or two.
2. **Queries**: one page rendered in-process with an empty (private) cache and again warm; the
   counts are `queries_per_page` and `queries_per_page_cached`; `queries_first_view` is a
   shopper's first view of another page with the shared cache as the server then has it.
   **Pages rendered ahead**: `manage.py trackpage_render_ahead`, the product's backfill for the
   orders changed in the last `TRACKPAGE_RENDER_AHEAD_DAYS`, as a deployer runs it (in
   production the scan / status / order events render each page as it changes); it skips pages
   already stored under their current key. `--no-render-ahead` measures first views that render.
3. **Throughput**: gunicorn (`--gunicorn-workers` sync workers, or gthread with
   `--gunicorn-threads`; config in benchmarks/tracking_page_gunicorn.py) on loopback serves the
   project plus `/bench/bare/` (benchmarks/tracking_page_urls.py). A separate load process runs
   `--concurrency` closed-loop clients for `--duration` s against the bare view, then against
   tracking pages of `--pages` random shipments (each client keeps its own visitor cookie, as a
   returning shopper does).
   `page_ratio = page_rps / bare_rps`.
4. **Latency**: pages requested open-loop at half the measured page throughput for `--duration`
   s; `p50_ms` and `p95_ms` of the response time.

The last line printed is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402 (after sys.path)
    child_pids,
    cpu_seconds,
    django_ready,
    ensure_database,
    flush_redis,
    free_port,
    migrate,
    redis_server_pid,
    stop,
    wait_for_http,
)

MERCHANT = "bench-store"
BASE_TIME = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
CARRIERS = ["ups", "fedex", "usps", "dhl"]
STATUSES = ["in_transit", "in_transit", "out_for_delivery", "delivered", "delivered", "exception"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON last")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_trackpage"
    )
    parser.add_argument("--cache-url", default="rediscache://127.0.0.1:6379/4")
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--events-per-shipment", type=int, default=10)
    parser.add_argument("--regenerate", action="store_true", help="rebuild the data")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=1, help=">1: gthread workers")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--pages", type=int, default=2000, help="distinct pages requested")
    parser.add_argument(
        "--no-render-ahead",
        dest="render_ahead",
        action="store_false",
        help="skip manage.py trackpage_render_ahead (first views then render their page)",
    )
    parser.add_argument("--render-threads", type=int, default=2, help="threads of the backfill")
    parser.add_argument(
        "--flush-cache", action="store_true", help="empty the cache's Redis DB first"
    )
    return parser.parse_args()


# --- environment ---------------------------------------------------------------------------------


def service_env(args: argparse.Namespace, settings_module: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": args.database_url,
        "CACHE_URL": args.cache_url,
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


# --- data ----------------------------------------------------------------------------------------


def _defaults(model: Any, given: set[str]) -> dict[str, Any]:
    """Values for every column the generator does not set: the model's own defaults."""
    from django.db import models

    now = datetime.now(tz=UTC)
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.attname in given:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value: Any = now
        elif field.has_default():
            value = field.get_default()
        elif field.null:
            value = None
        elif isinstance(field, models.CharField | models.TextField):
            value = ""
        else:
            raise RuntimeError(f"{model.__name__}.{field.name} needs a value in the generator")
        if isinstance(field, models.JSONField):
            value = json.dumps(value)
        values[field.column] = value
    return values


def copy_rows(model: Any, rows: Iterator[dict[str, Any]], *, total: int, desc: str) -> None:
    """COPY generated rows into the model's table, filling the other columns with defaults."""
    from django.db import connection

    first = next(rows)
    given = set(first)
    defaults = _defaults(model, given)
    columns = [*first.keys(), *defaults.keys()]
    fixed = list(defaults.values())
    table = model._meta.db_table
    column_list = ", ".join(f'"{c}"' for c in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy,
        tqdm(desc=desc, total=total, unit="row", mininterval=2) as bar,
    ):
        copy.write_row([*first.values(), *fixed])
        bar.update()
        for row in rows:
            copy.write_row([*row.values(), *fixed])
            bar.update()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'(SELECT MAX(id) FROM "{table}"))'
        )


def generate(shipments: int, events_per_shipment: int) -> None:
    """One merchant and its orders, lines, shipments and scans at the requested scale."""
    from commerce.models import Customer, Order, OrderLine, Product
    from postpurchase.models import Merchant
    from tracking.models import Shipment, ShipmentLine, TrackingEvent

    rng = random.Random(7)
    merchant = Merchant.objects.create(
        name="Bench Store",
        slug=MERCHANT,
        time_zone="America/New_York",
        languages=["en", "ja"],
        website="https://www.bench-store.example",
        support_email="help@bench-store.example",
    )
    m = merchant.pk
    customers = max(1, shipments // 2)
    products = 1000
    copy_rows(
        Customer,
        (
            {"id": i, "merchant_id": m, "external_id": f"c{i}", "email": f"shopper{i}@example.com",
             "first_name": "Sam", "last_name": f"Shopper{i}", "time_zone": "America/New_York"}
            for i in range(1, customers + 1)
        ),
        total=customers,
        desc="customers",
    )  # fmt: skip
    copy_rows(
        Product,
        (
            {"id": i, "merchant_id": m, "sku": f"SKU-{i:05d}", "title": f"Product {i}",
             "category": f"Category {i % 20}", "price": Decimal("19.00"), "currency": "USD",
             "url": f"https://www.bench-store.example/p/{i}", "in_stock": i % 10 != 0}
            for i in range(1, products + 1)
        ),
        total=products,
        desc="products",
    )  # fmt: skip

    def orders() -> Iterator[dict[str, Any]]:
        for i in range(1, shipments + 1):
            yield {
                "id": i, "merchant_id": m, "number": str(100000 + i), "external_id": f"o{i}",
                "customer_id": rng.randint(1, customers),
                "placed_at": BASE_TIME + timedelta(minutes=i),
                "currency": "USD", "subtotal": Decimal("38.00"), "total": Decimal("38.00"),
                "shipping_name": "Sam Shopper", "shipping_address1": "1 Main St",
                "shipping_city": "Springfield", "shipping_postcode": "10001",
                "shipping_country": "US",
            }  # fmt: skip

    copy_rows(Order, orders(), total=shipments, desc="orders")
    product_of = {(i, k): rng.randint(1, products) for i in range(1, shipments + 1) for k in (0, 1)}
    copy_rows(
        OrderLine,
        (
            {"id": 2 * i - 1 + k, "merchant_id": m, "order_id": i, "external_id": f"l{k}",
             "product_id": product_of[i, k], "sku": f"SKU-{product_of[i, k]:05d}",
             "title": f"Product {product_of[i, k]}", "quantity": 1, "unit_price": Decimal("19.00")}
            for i in range(1, shipments + 1) for k in (0, 1)
        ),
        total=2 * shipments,
        desc="order lines",
    )  # fmt: skip

    def shipment_rows() -> Iterator[dict[str, Any]]:
        for i in range(1, shipments + 1):
            status = STATUSES[i % len(STATUSES)]
            start = date(2026, 11, 24) + timedelta(days=i % 5)
            yield {
                "id": i, "merchant_id": m, "order_id": i, "public_id": f"bench{i:010d}",
                "carrier": CARRIERS[i % 4], "tracking_number": f"1ZBENCH{i:011d}",
                "destination_country": "US", "destination_postcode": "10001",
                "shipped_at": BASE_TIME + timedelta(hours=i % 48), "status": status,
                "estimate_window_start": start, "estimate_window_end": start + timedelta(days=2),
                "promise_date": start + timedelta(days=2),
                "first_promise_date": start + timedelta(days=1),
                "estimate_updated_at": BASE_TIME + timedelta(days=1),
                "last_event_at": BASE_TIME + timedelta(hours=events_per_shipment),
            }  # fmt: skip

    copy_rows(Shipment, shipment_rows(), total=shipments, desc="shipments")
    copy_rows(
        ShipmentLine,
        (
            {"id": 2 * i - 1 + k, "merchant_id": m, "shipment_id": i,
             "order_line_id": 2 * i - 1 + k, "quantity": 1}
            for i in range(1, shipments + 1) for k in (0, 1)
        ),
        total=2 * shipments,
        desc="shipment lines",
    )  # fmt: skip

    def event_rows() -> Iterator[dict[str, Any]]:
        n = 0
        for i in range(1, shipments + 1):
            for k in range(events_per_shipment):
                n += 1
                occurred = BASE_TIME + timedelta(hours=k * 6 + i % 24)
                yield {
                    "id": n, "merchant_id": m, "shipment_id": i, "dedupe_key": f"{i:020d}{k:08d}",
                    "carrier": CARRIERS[i % 4], "tracking_number": f"1ZBENCH{i:011d}",
                    "occurred_at": occurred, "status": "in_transit", "carrier_code": "IT",
                    "carrier_text": "Arrived at facility", "city": f"Hub {k}", "country": "US",
                    "source": "webhook", "received_at": occurred,
                }  # fmt: skip

    copy_rows(
        TrackingEvent, event_rows(), total=shipments * events_per_shipment, desc="tracking events"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def data_ready(shipments: int, events: int) -> bool:
    from postpurchase.models import Merchant
    from tracking.models import Shipment, TrackingEvent

    merchant = Merchant.objects.filter(slug=MERCHANT).first()
    if merchant is None:
        return False
    return (
        Shipment.objects.filter(merchant=merchant).count() == shipments
        and TrackingEvent.objects.filter(merchant=merchant).count() == events
    )


def page_paths(count: int, shipments: int) -> list[str]:
    from trackpage.links import page_token_for_shipment

    rng = random.Random(11)
    chosen = rng.sample(range(1, shipments + 1), min(count, shipments))
    return [
        f"/{MERCHANT}/track/t/"
        + page_token_for_shipment(merchant_slug=MERCHANT, shipment_public_id=f"bench{i:010d}")
        + "/"
        for i in chosen
    ]


def query_counts(path: str) -> tuple[int, int]:
    """Queries of one page view with an empty cache, then warm (in-process, with a private
    in-memory cache so the shared one, and the pages rendered ahead in it, are left alone)."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    private = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=private):
        from django.core.cache import cache

        client = Client()
        client.get(path)  # the visitor cookie: later views update the same row
        cache.clear()
        with CaptureQueriesContext(connection) as cold:
            assert client.get(path).status_code == 200
        with CaptureQueriesContext(connection) as warm:
            assert client.get(path).status_code == 200
    return len(cold.captured_queries), len(warm.captured_queries)


def first_view_queries(warm_path: str, path: str) -> int:
    """Queries of a shopper's first view of a page, with the shared cache as the server has it
    (after `warm_path` has put the store into the cache)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    assert client.get(warm_path).status_code == 200
    with CaptureQueriesContext(connection) as first:
        assert client.get(path).status_code == 200
    return len(first.captured_queries)


def purchase_stats(env: dict[str, str]) -> float:
    """The product's build of the purchase statistics behind recommendations (`manage.py
    commerce_purchase_stats`): the generated orders were written with COPY, without the
    `order.created` events that keep them. A second run only does what is left. Seconds taken."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "commerce_purchase_stats"], cwd=ROOT, env=env, check=True
    )
    return time.monotonic() - started


def render_ahead(env: dict[str, str], threads: int) -> float:
    """The product's own backfill (`manage.py trackpage_render_ahead`, what a deployer runs after
    a deploy or a cache flush): pages of recently changed orders into the cache. Seconds taken."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "trackpage_render_ahead", "--threads", str(threads)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return time.monotonic() - started


# --- load ----------------------------------------------------------------------------------------


def load_process(
    port: int,
    paths: list[str],
    concurrency: int,
    duration: float,
    rate: float,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    """Closed loop (rate 0) or open loop at `rate` per second; report counts and latencies."""
    ok = errors = 0
    latencies: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + duration
    sequence = iter(range(10**9))

    def client(number: int) -> None:
        nonlocal ok, errors
        cookie = f"tp_visitor=benchvisitor{number:08d}xxxxxxxx"
        while True:
            with lock:
                index = next(sequence)
            if rate:
                due = started + index / rate
                if due >= deadline:
                    return
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
            elif time.monotonic() >= deadline:
                return
            path = paths[index % len(paths)]
            sent = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path, headers={"Cookie": cookie, "Accept-Language": "en"})
                response = conn.getresponse()
                response.read()
                good = response.status == 200
            except OSError:
                good = False
            finally:
                conn.close()
            elapsed = time.monotonic() - sent
            with lock:
                if good:
                    ok += 1
                    latencies.append(elapsed)
                else:
                    errors += 1

    cpu_started = time.process_time()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(
        {
            "ok": ok,
            "errors": errors,
            "seconds": time.monotonic() - started,
            "latencies": latencies,
            "client_cpu": time.process_time() - cpu_started,
        }
    )


class CpuMeter:
    """CPU seconds spent during a load phase by the gunicorn workers, the PostgreSQL backends of
    the benchmark's database (the view-count flush included, as a deployment pays it), and the
    Redis server (shared with anything else using it on this machine). On a shared machine
    throughput swings with the neighbours' load; CPU per request much less."""

    def __init__(self, gunicorn_pid: int, redis_pid: int | None) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.redis_pid = redis_pid
        self.started: dict[int, float] = {}

    def _groups(self) -> dict[str, list[int]]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            backends = [row[0] for row in cursor.fetchall()]
        return {
            "web": child_pids(self.gunicorn_pid),
            "db": backends,
            "redis": [self.redis_pid] if self.redis_pid else [],
        }

    def start(self) -> None:
        self.started = {pid: cpu_seconds(pid) for pids in self._groups().values() for pid in pids}

    def stop(self) -> dict[str, float]:
        return {
            group: sum(cpu_seconds(pid) - self.started.get(pid, 0.0) for pid in pids)
            for group, pids in self._groups().items()
        }


def cpu_per_request(outcome: dict[str, Any]) -> dict[str, float]:
    """Milliseconds of CPU per answered request, per process group and in all."""
    cpu = {**outcome["cpu"], "client": outcome["client_cpu"]}
    answered = max(outcome["ok"], 1)
    per = {group: round(seconds * 1000 / answered, 3) for group, seconds in cpu.items()}
    per["total"] = round(sum(per.values()), 3)
    return per


def drive(
    port: int,
    paths: list[str],
    args: argparse.Namespace,
    rate: float = 0.0,
    meter: CpuMeter | None = None,
) -> dict:
    """Run the load in a separate process (the client must not share the server's GIL)."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    concurrency = args.concurrency * 2 if rate else args.concurrency
    process = ctx.Process(
        target=load_process, args=(port, paths, concurrency, args.duration, rate, results)
    )
    if meter is not None:
        meter.start()
    process.start()
    outcome = results.get(timeout=args.duration + 180)
    if meter is not None:
        outcome["cpu"] = meter.stop()
    process.join(timeout=30)
    outcome["rps"] = outcome["ok"] / outcome["seconds"] if outcome["seconds"] else 0.0
    return outcome


class ViewsFlusher(threading.Thread):
    """What celery beat does in production: `trackpage.page_views_flush` every
    TRACKPAGE_VIEWS_FLUSH_SECONDS while the load runs, on the same machine (its cost competes
    with the server's, as it would)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.rows = 0
        self.seconds = 0.0

    def run(self) -> None:
        from django.conf import settings
        from django.db import connection

        from trackpage.services import page_views_flush

        while not self.done.wait(settings.TRACKPAGE_VIEWS_FLUSH_SECONDS):
            self.flush(page_views_flush)
        self.flush(page_views_flush)
        connection.close()

    def flush(self, page_views_flush: Any) -> None:
        started = time.monotonic()
        self.rows += page_views_flush()
        self.seconds += time.monotonic() - started


def response_bytes(port: int, path: str) -> int:
    """Bytes of one response as the load client reads them (status line, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": "tp_visitor=benchsize0000000000000000"})
        response = conn.getresponse()
        body = response.read()
        head = sum(len(k) + len(v) + 4 for k, v in response.getheaders())
        return len(body) + head + len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + 2
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    args = parse_args()
    events = args.shipments * args.events_per_shipment
    ensure_database(args.database_url, drop=args.regenerate)
    env = service_env(args, "postpurchase.settings")
    django_ready(env, ROOT)
    generated = not data_ready(args.shipments, events)
    if generated:
        from django.db import connection

        connection.close()
        ensure_database(args.database_url, drop=True)
        migrate(env, ROOT)
        started = time.monotonic()
        generate(args.shipments, args.events_per_shipment)
        print(f"generated in {time.monotonic() - started:.0f} s", file=sys.stderr)
    if args.flush_cache or generated or not args.render_ahead:
        flush_redis(args.cache_url)
    purchase_stats_seconds = purchase_stats(env)
    paths = page_paths(args.pages, args.shipments)
    cold_queries, warm_queries = query_counts(paths[0])
    render_ahead_seconds = render_ahead(env, args.render_threads) if args.render_ahead else None
    first_queries = first_view_queries(paths[-1], paths[1])

    port = args.port or free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-trackpage-"))
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.tracking_page_wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.gunicorn_workers),
            "--worker-class",
            "gthread" if args.gunicorn_threads > 1 else "sync",
            "--threads",
            str(args.gunicorn_threads),
            "--config",
            "python:benchmarks.tracking_page_gunicorn",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=service_env(args, "benchmarks.tracking_page_settings"),
        stdout=(log_dir / "gunicorn.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_http(port, "/bench/bare/")
        flusher = ViewsFlusher()
        flusher.start()
        meter = CpuMeter(gunicorn.pid, redis_server_pid(args.cache_url))
        phases = tqdm(total=3, desc="load phases", unit="phase")
        bare = drive(port, ["/bench/bare/"], args, meter=meter)
        phases.update()
        page = drive(port, paths, args, meter=meter)
        phases.update()
        half = drive(port, paths, args, rate=max(page["rps"] / 2, 1.0))
        phases.update()
        phases.close()
        sizes = (response_bytes(port, "/bench/bare/"), response_bytes(port, paths[0]))
        flusher.done.set()
        flusher.join(timeout=120)
    finally:
        stop(gunicorn)

    results = {
        "shipments": args.shipments,
        "events": events,
        "gunicorn_workers": args.gunicorn_workers,
        "gunicorn_threads": args.gunicorn_threads,
        "concurrency": args.concurrency,
        "distinct_pages": len(paths),
        "cache": args.cache_url.split("://", 1)[0],
        "bare_rps": round(bare["rps"], 1),
        "page_rps": round(page["rps"], 1),
        "page_ratio": round(page["rps"] / bare["rps"], 3) if bare["rps"] else 0.0,
        "half_load_rps": round(half["rps"], 1),
        "p50_ms": round(statistics.median(half["latencies"]) * 1000, 1)
        if half["latencies"]
        else 0.0,
        "p95_ms": round(percentile(half["latencies"], 0.95) * 1000, 1),
        "page_p95_ms_at_full_load": round(percentile(page["latencies"], 0.95) * 1000, 1),
        "purchase_stats_seconds": round(purchase_stats_seconds, 1),
        "render_ahead": args.render_ahead,
        "render_ahead_seconds": round(render_ahead_seconds, 1)
        if render_ahead_seconds is not None
        else None,
        "views_rows_flushed": flusher.rows,
        "views_flush_seconds": round(flusher.seconds, 2),
        "queries_per_page": cold_queries,
        "queries_per_page_cached": warm_queries,
        "queries_first_view": first_queries,
        "cpu_ms_per_request_bare": (bare_cpu := cpu_per_request(bare)),
        "cpu_ms_per_request_page": (page_cpu := cpu_per_request(page)),
        "page_ratio_by_cpu": round(bare_cpu["total"] / page_cpu["total"], 3),
        "response_bytes_bare": sizes[0],
        "response_bytes_page": sizes[1],
        "errors": bare["errors"] + page["errors"] + half["errors"],
        "gunicorn_log": str(log_dir / "gunicorn.log"),
    }
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
