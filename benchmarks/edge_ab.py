"""Webhook edge A/B: two source trees, the same load, alternating rounds, CPU per request.

    .venv/bin/python benchmarks/edge_ab.py --tree base=/path/to/old/checkout --tree new=. \
        --database-url postgres://postgres@127.0.0.1:5432/h_edge2_ab --redis-url redis://127.0.0.1:6379/10

The edge phase of `benchmarks/ingest.py` only, made for a shared machine where wall-clock rates
swing 2x between minutes: each tree (a checkout of this project; all run with this interpreter,
so the trees must share dependencies) gets its own database (`<database-url>_<label>`, dropped,
migrated by the tree, one merchant `bench` with a generic secret). Each round starts, for every
tree in turn (the order reversed every other round: A B, B A, ...), the same gunicorn as
`ingest.py` (2 gthread workers x 8 threads, `benchmarks.ingest_settings`), warms it, then runs
the bare-view phase and the webhook phase with `ingest.py`'s load process (16 threads, a new
connection per request, the same signed bodies), and stops it. Around every phase it reads the
CPU time (utime + stime from /proc) of the gunicorn workers, the PostgreSQL backends of the
tree's database, redis-server and the load process, and prints per phase the rate and the CPU
milliseconds per request of each, with the load average. CPU per request is what the load
inflates least; the ratio of each round is the webhook rate over the bare rate just before it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import ensure_database, flush_redis, free_port, stop, wait_for_http  # noqa: E402
from benchmarks.ingest import (  # noqa: E402
    MERCHANT,
    SECRET,
    gunicorn_command,
    load_process,
    webhook_bodies,
)

TICK = os.sysconf("SC_CLK_TCK")
SEED = (
    "from postpurchase.models import Merchant\n"
    "from tracking.webhooks.secrets import webhook_secret_add\n"
    f"m = Merchant.objects.create(name='Bench store', slug={MERCHANT!r})\n"
    f"webhook_secret_add(merchant=m, source='generic', secret={SECRET!r})\n"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", required=True, help="label=path, twice")
    parser.add_argument("--database-url", required=True, help="prefix: _<label> is appended")
    parser.add_argument("--redis-url", required=True, help="redis://host:port/N (flushed)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase")
    parser.add_argument("--requests", type=int, default=20_000, help="max requests per phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="one JSON object per phase")
    return parser.parse_args()


def env_for(tree: Path, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.ingest_settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CACHE_URL": redis_url.replace("redis://", "rediscache://", 1),
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "TRACKING_INGEST_QUEUE": "ingest",
        "PYTHONPATH": str(tree),
    }


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def backends(database_url: str) -> list[int]:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        ).fetchall()
    return [int(pid) for (pid,) in rows]


class _Box:
    """Stands in for the multiprocessing queue `load_process` reports to."""

    value: dict[str, Any]

    def put(self, value: dict[str, Any]) -> None:
        self.value = value


def client(
    port: int, path: str, bodies: list[bytes], concurrency: int, duration: float, out: Any
) -> None:
    box = _Box()
    load_process(port, path, bodies, concurrency, duration, 0.0, box)  # type: ignore[arg-type]
    times = os.times()
    out.put({**box.value, "client_cpu": times.user + times.system})


def phase(
    port: int, path: str, bodies: list[bytes], args: argparse.Namespace, gunicorn_pid: int, db: str
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = children(gunicorn_pid)
    pg = backends(db)
    redis = pids_named("redis-server")
    before = {pid: cpu_ticks(pid) for pid in [*workers, *pg, *redis]}
    load = Path("/proc/loadavg").read_text().split()[0]
    process = ctx.Process(
        target=client, args=(port, path, bodies, args.concurrency, args.duration, out)
    )
    process.start()
    result = out.get(timeout=args.duration + 120)
    process.join(timeout=30)
    pg_after = backends(db)

    def spent(pids: list[int]) -> float:
        return sum(cpu_ticks(pid) - before.get(pid, 0) for pid in pids) / TICK

    ok = max(1, int(result["ok"]))
    return {
        "path": path,
        "ok": result["ok"],
        "errors": result["errors"],
        "rps": result["ok"] / result["seconds"],
        "gunicorn_ms": 1000 * spent(workers) / ok,
        "postgres_ms": 1000 * spent(sorted(set(pg) | set(pg_after))) / ok,
        "redis_ms": 1000 * spent(redis) / ok,
        "client_ms": 1000 * result["client_cpu"] / ok,
        "load": f"{load}->{Path('/proc/loadavg').read_text().split()[0]}",
    }


def prepare(label: str, tree: Path, args: argparse.Namespace, redis_url: str) -> str:
    db = f"{args.database_url}_{label}"
    ensure_database(db, drop=True)
    env = env_for(tree, db, redis_url)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=tree, env=env, check=True)
    subprocess.run([*manage, "shell", "-c", SEED], cwd=tree, env=env, check=True)
    return db


def serve(
    tree: Path, db: str, redis_url: str, args: argparse.Namespace, port: int
) -> subprocess.Popen[bytes]:
    flush_redis(redis_url)
    process = subprocess.Popen(
        gunicorn_command(port, args.gunicorn_workers, args.gunicorn_threads),
        cwd=tree,
        env=env_for(tree, db, redis_url),
        stdout=subprocess.DEVNULL,
        stderr=None,
        start_new_session=True,
    )
    wait_for_http(port, "/healthz")
    return process


def main() -> None:
    args = parse_args()
    trees = [(label, Path(path).resolve()) for label, path in (t.split("=", 1) for t in args.tree)]
    # One Redis DB each (the debounce key and queued broker messages are not shared): N, N+1, ...
    base, number = args.redis_url.rsplit("/", 1)
    redis_urls = {label: f"{base}/{int(number) + i}" for i, (label, _) in enumerate(trees)}
    dbs = {label: prepare(label, tree, args, redis_urls[label]) for label, tree in trees}
    numbers = [f"1ZBENCH{i:011d}" for i in range(4000)]
    for round_no in range(args.rounds):
        order = trees if round_no % 2 == 0 else trees[::-1]
        for label, tree in order:
            port = free_port()
            gunicorn = serve(tree, dbs[label], redis_urls[label], args, port)
            try:
                webhook_path = f"/webhooks/generic/{MERCHANT}/"
                hooks = webhook_bodies(numbers, args.requests, 4, f"{label}-{round_no}")
                bodies = [body for body, _ in hooks]
                warm = webhook_bodies(numbers, 200, 4, f"{label}-{round_no}-warm")
                ctx = multiprocessing.get_context("spawn")
                for path, warm_bodies in (
                    ("/bench/bare/", [b"{}"] * 200),
                    (webhook_path, [b for b, _ in warm]),
                ):
                    out = ctx.Queue()
                    p = ctx.Process(
                        target=client, args=(port, path, warm_bodies, args.concurrency, 30.0, out)
                    )
                    p.start()
                    out.get(timeout=150)
                    p.join(timeout=30)
                bare = phase(port, "/bench/bare/", bodies, args, gunicorn.pid, dbs[label])
                hook = phase(port, webhook_path, bodies, args, gunicorn.pid, dbs[label])
            finally:
                stop(gunicorn)
            for name, figures in (("bare", bare), ("webhook", hook)):
                figures.update(round=round_no, tree=label, view=name)
                if args.json:
                    print(json.dumps(figures), flush=True)
                else:
                    print(
                        f"r{round_no} {label:6} {name:8} {figures['rps']:8.1f} rps"
                        f" err {figures['errors']:3}  ms/req: gunicorn {figures['gunicorn_ms']:.3f}"
                        f" pg {figures['postgres_ms']:.3f} redis {figures['redis_ms']:.3f}"
                        f" client {figures['client_ms']:.3f}  load {figures['load']}",
                        flush=True,
                    )
            server = (hook["gunicorn_ms"] + hook["postgres_ms"] + hook["redis_ms"]) / (
                bare["gunicorn_ms"] + bare["postgres_ms"] + bare["redis_ms"]
            )
            print(
                f"r{round_no} {label:6} ratio {hook['rps'] / bare['rps']:.3f}"
                f"  server CPU webhook/bare {server:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
