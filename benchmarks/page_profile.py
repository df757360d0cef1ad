"""The tracking page in one process: CPU per request of the bare view and of page views, a profile.

    .venv/bin/python benchmarks/page_profile.py --database-url postgres://…/<bench db> \
        --cache-url rediscache://127.0.0.1:6379/N [--tree DIR] [--pages 500] [--profile out.prof]

Calls the tracking-page benchmark's WSGI application (`benchmarks.tracking_page_settings`, every
middleware, the request signals) directly, as gunicorn does, one request at a time, on the data
and the pages `benchmarks/tracking_page.py` generated and rendered ahead into that database and
Redis DB (run it once first). Each block times the bare view, then `--pages` page views that
are each the link's first in the minute (its kept head deleted before the pass: the head query
and its keep), then the same pages again (repeat views: the head from Redis), with the load
client's headers (a visitor cookie, no CSRF cookie). Prints the process CPU
(`time.process_time`) per request of each; `--profile` writes a cProfile of a first-view pass
and a repeat pass (`python -m pstats` reads it). PostgreSQL's and Redis's CPU are not counted:
the full benchmark reads them from /proc.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import time
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

ROOT = Path(__file__).resolve().parent.parent
# `--tree DIR`: run another checkout's code with this script (that checkout first on the path).
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve() if "--tree" in sys.argv else ROOT
if os.environ.get("PYTHONPATH") != str(TREE):
    os.chdir(TREE)
    os.execve(  # noqa: S606 - this script again, not a shell
        sys.executable,
        [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]],
        {**os.environ, "PYTHONPATH": str(TREE)},
    )
sys.path.insert(0, str(TREE))

MERCHANT = "bench-store"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--cache-url", required=True)
    parser.add_argument("--shipments", type=int, default=5000, help="as the data was generated")
    parser.add_argument("--pages", type=int, default=500, help="distinct pages per pass")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of one first-view and repeat pass")
    parser.add_argument("--tree", default=str(ROOT), help="the checkout whose code runs")
    return parser.parse_args()


def environ(path: str, visitor: int) -> dict[str, Any]:
    """A GET as the load client sends it (a returning visitor's cookie, no CSRF cookie)."""
    request: dict[str, Any] = {
        "PATH_INFO": path,
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_COOKIE": f"tp_visitor=benchvisitor{visitor:08d}xxxxxxxx",
        "HTTP_ACCEPT_LANGUAGE": "en",
    }
    setup_testing_defaults(request)
    return request


def main() -> None:
    args = parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.tracking_page_settings",
            "DATABASE_URL": args.database_url,
            "CACHE_URL": args.cache_url,
            "CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
        }
    )
    import gc

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    import trackpage
    from benchmarks.tracking_page import page_paths
    from trackpage import selectors, shared_cache

    print(f"code: {Path(trackpage.__file__).parent.parent}", flush=True)
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)

    def run(paths: list[str]) -> float:
        started = time.process_time()
        for number, path in enumerate(paths):
            response = application(environ(path, number % 8), start_response)
            b"".join(response)
            response.close()
        return (time.process_time() - started) / len(paths)

    paths = page_paths(args.pages, args.shipments)
    from trackpage.links import page_token_read

    refs = [page_token_read(merchant_slug=MERCHANT, token=p.split("/")[-2]) for p in paths]
    merchant = selectors.page_merchant(slug=MERCHANT)
    assert merchant is not None
    found = shared_cache.shared()
    assert found is not None, "needs the Redis cache"
    backend, client = found
    head_keys = [backend.make_key(selectors.head_keys(merchant.pk, r.value)[0]) for r in refs]

    def forget_heads() -> None:
        client.delete(*head_keys)

    run(["/bench/bare/"] * 200)
    run(paths)  # warm: merchant, blocks, connections
    gc.freeze()  # as the benchmark's gunicorn does after fork
    for block in range(args.blocks):
        statuses.clear()
        bare = run(["/bench/bare/"] * len(paths))
        forget_heads()
        first = run(paths)
        repeat = run(paths)
        bad = [s for s in statuses if not s.startswith("200")]
        if bad:
            print(f"statuses: {sorted(set(bad))}", flush=True)
        print(
            f"block {block}: CPU per request bare {bare * 1000:.3f} ms,"
            f" page first view {first * 1000:.3f} ms, repeat {repeat * 1000:.3f} ms;"
            f" non-200 {len(bad)}; load {Path('/proc/loadavg').read_text().split()[0]}",
            flush=True,
        )
    if args.profile:
        forget_heads()
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        run(paths)
        run(paths)
        profiler.disable()
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
