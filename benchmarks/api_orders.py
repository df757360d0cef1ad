"""Order upsert through the REST API: throughput, latency and queries per request.

In-process (WSGI through Django's test client, no sockets), against its own database:

    .venv/bin/python benchmarks/api_orders.py --json                          # SQLite file
    createdb -h 127.0.0.1 -U postgres bench_api
    .venv/bin/python benchmarks/api_orders.py --json \
        --database-url postgres://postgres@127.0.0.1:5432/bench_api

Three phases of `--orders` requests each: new orders (201), identical retries (200, nothing
written), changed orders (200, one `order.updated` each). Reports requests/s, p50/p95 latency
and database queries per request for each phase. Tasks run eagerly, as in the embedded default:
the event handlers the apps register (estimates, notifications, ...) run inside the request, so
the figures include them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _order(n: int, *, shipping_method: str = "Ground") -> dict[str, Any]:
    return {
        "external_id": f"bench-{n}",
        "number": f"B{n}",
        "placed_at": "2026-11-20T15:30:00Z",
        "currency": "USD",
        "customer": {
            "external_id": f"cust-{n % 500}",
            "email": f"shopper{n % 500}@example.com",
            "phone": "+14155550123",
            "first_name": "Alice",
        },
        "shipping_address": {"city": "New York", "postcode": "10001", "country": "US"},
        "lines": [
            {
                "external_id": f"l-{n}-{i}",
                "sku": f"SKU-{(n + i) % 200}",
                "title": "Merino sock",
                "quantity": 1 + i,
                "unit_price": "18.00",
            }
            for i in range(3)
        ],
        "shipping_total": "5.00",
        "shipping_method": shipping_method,
    }


def _phase(client: Any, name: str, bodies: list[dict[str, Any]], expect: int) -> dict[str, Any]:
    from django.db import connection
    from tqdm import tqdm

    latencies: list[float] = []
    queries = 0
    errors = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    started = time.perf_counter()
    for body in tqdm(bodies, desc=name, unit="req", file=sys.stderr, mininterval=2):
        with connection.execute_wrapper(count):
            t0 = time.perf_counter()
            response = client.post("/api/v1/orders/", body, content_type="application/json")
            latencies.append(time.perf_counter() - t0)
        if response.status_code != expect:
            errors += 1
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        f"{name}_rps": round(len(bodies) / elapsed, 1),
        f"{name}_p50_ms": round(statistics.median(latencies) * 1000, 2),
        f"{name}_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        f"{name}_queries_per_request": round(queries / len(bodies), 1),
        f"{name}_errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument(
        "--database-url",
        default=f"sqlite:///{ROOT / 'var' / 'bench_api.sqlite3'}",
        help="An empty (or earlier benchmark) database; it is flushed first.",
    )
    parser.add_argument("--json", action="store_true", help="Print one JSON object last.")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ["API_THROTTLE_RATE"] = "1000000/min"
    os.environ["LOG_LEVEL"] = "ERROR"
    (ROOT / "var").mkdir(exist_ok=True)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from postpurchase.api_keys import api_key_create
    from postpurchase.models import Merchant

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    merchant = Merchant.objects.create(name="Bench", slug="bench")
    secret = api_key_create(merchant=merchant, name="bench", scopes=["orders:write"]).secret
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    n = args.orders
    result: dict[str, Any] = {
        "orders": n,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
    }
    result |= _phase(client, "create", [_order(i) for i in range(n)], 201)
    result |= _phase(client, "replay", [_order(i) for i in range(n)], 200)
    result |= _phase(
        client, "update", [_order(i, shipping_method="Express") for i in range(n)], 200
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>32}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
