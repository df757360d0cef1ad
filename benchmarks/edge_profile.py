"""The webhook edge in one process: CPU per request of the bare view and the webhook, and a profile.

    .venv/bin/python benchmarks/edge_profile.py --database-url postgres://…/h_x_prof \
        --redis-url redis://127.0.0.1:6379/N [--requests 2000] [--profile out.prof]

Calls the project's WSGI application (`benchmarks.ingest_settings`, every middleware, the
request_started/finished signals) directly with a WSGI environ, as gunicorn does, one request at
a time: no sockets, no threads waiting on each other. The database (dropped, migrated, one
merchant `bench` with a generic secret) and the Redis DB (flushed) are the benchmark's own. Prints
the process CPU (`time.process_time`) per request of each path, bare and webhook, alternating
blocks; `--profile` writes a cProfile of the webhook requests (`python -m pstats` reads it).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# `--tree DIR` (before the other arguments' parsing): profile another checkout's code with this
# script (its own tracking/, postpurchase/, … first on the path).
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve() if "--tree" in sys.argv else ROOT
if os.environ.get("PYTHONPATH") != str(TREE):
    # Run again with that checkout first on the path from the start (the editable install of
    # this one would otherwise win for some packages).
    os.chdir(TREE)
    os.execve(  # noqa: S606 - this script again, not a shell
        sys.executable,
        [sys.executable, __file__, *sys.argv[1:]],
        {**os.environ, "PYTHONPATH": str(TREE)},
    )
sys.path.insert(0, str(TREE))

from benchmarks.edge_ab import SEED, env_for  # noqa: E402
from benchmarks.harness import ensure_database, flush_redis  # noqa: E402
from benchmarks.ingest import MERCHANT, sign, webhook_bodies  # noqa: E402

sys.path.insert(0, str(TREE))  # benchmarks.ingest put this checkout first again


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--requests", type=int, default=2000, help="per path and block")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the webhook requests here")
    parser.add_argument("--tree", default=str(ROOT), help="the checkout whose code runs")
    parser.add_argument("--reuse-db", action="store_true", help="skip the drop, migrate and seed")
    return parser.parse_args()


def environ(path: str, body: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_POSTPURCHASE_SIGNATURE": sign(body),
        "HTTP_USER_AGENT": "Python-urllib/3.12",
        "HTTP_ACCEPT_ENCODING": "identity",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def main() -> None:
    args = parse_args()
    flush_redis(args.redis_url)
    env = env_for(TREE, args.database_url, args.redis_url)
    if not args.reuse_db:
        ensure_database(args.database_url, drop=True)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=TREE, env=env, check=True)
        subprocess.run([*manage, "shell", "-c", SEED], cwd=TREE, env=env, check=True)
    os.environ.update(env)
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    import tracking

    print(f"code: {Path(tracking.__file__).parent.parent}", flush=True)
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def run(path: str, bodies: list[bytes]) -> float:
        started = time.process_time()
        for body in bodies:
            response = application(environ(path, body), start_response)
            b"".join(response)
            response.close()
        return (time.process_time() - started) / len(bodies)

    numbers = [f"1ZBENCH{i:011d}" for i in range(4000)]
    webhook = f"/webhooks/generic/{MERCHANT}/"
    run("/bench/bare/", [b"{}"] * 200)
    run(webhook, [b for b, _ in webhook_bodies(numbers, 200, 4, f"warm-{time.time_ns()}")])
    for block in range(args.blocks):
        tag = f"{time.time_ns()}-{block}"  # unique event ids when the database is reused
        bodies = [b for b, _ in webhook_bodies(numbers, args.requests, 4, tag)]
        statuses.clear()
        bare = run("/bench/bare/", bodies)
        hook = run(webhook, bodies)
        bad = [s for s in statuses if not s.startswith("2")]
        print(
            f"block {block}: CPU per request bare {bare * 1000:.3f} ms,"
            f" webhook {hook * 1000:.3f} ms"
            f" (extra {(hook - bare) * 1000:.3f} ms); non-2xx {len(bad)}"
            f"; load {Path('/proc/loadavg').read_text().split()[0]}",
            flush=True,
        )
    if args.profile:
        bodies = [b for b, _ in webhook_bodies(numbers, args.requests, 4, f"prof-{time.time_ns()}")]
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        run(webhook, bodies)
        profiler.disable()
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
