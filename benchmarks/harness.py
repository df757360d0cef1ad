"""What the benchmark scripts share: their own PostgreSQL database, migrated, and Django set up
on it; a clean Redis DB, a free loopback port, waiting for a served app and stopping a process
group."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def ensure_database(url: str, *, drop: bool = False) -> None:
    """Create the benchmark's own database (dropped first when `drop`) if it does not exist."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict[str, str], cwd: Path) -> None:
    """Migrate the benchmark's database with the code of the checkout `cwd`, in a subprocess."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=cwd,
        env=env,
        check=True,
    )


def django_ready(env: dict[str, str], cwd: Path) -> None:
    """Migrate, then set Django up in this process on the same settings (`env`)."""
    migrate(env, cwd)
    os.environ.update(env)
    import django

    django.setup()


def flush_redis(url: str) -> None:
    """Empty one Redis DB, given as redis:// or as Django's rediscache:// URL; others are left."""
    if url.startswith("rediscache://"):
        url = url.replace("rediscache://", "redis://", 1)
    if not url.startswith("redis://"):
        return
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(port: int, path: str, timeout: float = 60.0) -> None:
    """Return once GET `path` on the loopback port answers; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"nothing answered on port {port} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started with `start_new_session=True`, and its children."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


# --- CPU accounting (what a process spent, not what the shared machine let it finish) ----------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (e.g. a gunicorn master's workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as children:
            return [int(p) for p in children.read().split()]
    except OSError:
        return []


def redis_server_pid(url: str) -> int | None:
    """The pid of the Redis server behind a redis:// or rediscache:// URL, when it runs here."""
    if url.startswith("rediscache://"):
        url = url.replace("rediscache://", "redis://", 1)
    if not url.startswith("redis://"):
        return None
    import redis

    client = redis.Redis.from_url(url)
    try:
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    return pid if os.path.exists(f"/proc/{pid}") else None
