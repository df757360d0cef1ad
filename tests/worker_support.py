"""A real Celery worker subprocess on Redis, against the test's PostgreSQL database: the
fixtures every real-worker test shares (`worker`, `web_side`), `wait_for` and `broker_down`.

The worker runs `tests.worker_settings` (the project's settings plus `tests.probe_app`) on a queue
of its own; tests using it are marked `broker` and `postgres`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from postpurchase.celery import app as celery_app
from postpurchase.models import DomainEvent

# Nothing listens on this port: "the broker is down" without stopping anyone's Redis.
DEAD_BROKER = "redis://127.0.0.1:6390/2"
WORKER_START_TIMEOUT = 90.0
DELIVERY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Worker:
    queue: str
    process: subprocess.Popen[bytes]
    log: Path

    def calls(self, event: DomainEvent) -> int:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        try:
            return int(client.get(f"{self.queue}:calls:{event.pk}") or 0)
        finally:
            client.close()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{quote(db['USER'] or '', safe='')}{password}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def wait_for[T](what: str, probe: Callable[[], T | None], worker: Worker, timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {what}:\n{worker.log_tail()}")
        time.sleep(0.2)
    pytest.fail(
        f"timed out after {timeout:.0f}s waiting for {what}; worker log:\n{worker.log_tail()}"
    )


@pytest.fixture(scope="module")
def worker(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A `celery worker` process on the test database, consuming a queue of its own."""
    if not (settings.IS_POSTGRES and settings.CELERY_BROKER_URL):
        pytest.skip("needs PostgreSQL and a broker")
    queue = f"probe-{uuid.uuid4().hex[:12]}"
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    base_dir = Path(settings.BASE_DIR)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PROBE_QUEUE": queue,
        "PROBE_REDIS_URL": settings.CELERY_BROKER_URL,
        "OUTBOX_SWEEP_AFTER_SECONDS": "0",
        "CONN_MAX_AGE": "0",  # no idle connection keeps the test database from being dropped
        "PYTHONPATH": os.pathsep.join([str(base_dir), os.environ.get("PYTHONPATH", "")]),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "postpurchase",
                "worker",
                "--queues",
                queue,
                "--hostname",
                f"{queue}@%h",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            cwd=base_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    handle = Worker(queue=queue, process=process, log=log)
    try:
        wait_for(
            "the worker to be ready",
            lambda: " ready." in log.read_text(errors="replace"),
            handle,
            WORKER_START_TIMEOUT,
        )
        yield handle
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _reset_producer_pool() -> None:
    # Celery caches the broker connection pool; drop it so the next send uses the current URL.
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def web_side(worker: Worker, settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The test process publishes like the web process: to the broker, on the worker's queue."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = worker.queue
    try:
        yield
        # Tasks a test set off may still be running (a handler enqueues more work); the test's
        # tables are truncated after this, which deadlocks against a busy worker.
        _wait_until_idle(worker)
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous


def _wait_until_idle(worker: Worker, timeout: float = 60.0) -> None:
    """Return once the worker's queue is empty and it reports nothing active or reserved, twice
    in a row (a task may enqueue another between two looks)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    inspector = celery_app.control.inspect(timeout=1.0)
    quiet = 0
    deadline = time.monotonic() + timeout
    try:
        while quiet < 2:
            if time.monotonic() > deadline:
                pytest.fail(f"the worker did not go idle; worker log:\n{worker.log_tail()}")
            quiet = quiet + 1 if _idle(worker, client, inspector) else 0
            time.sleep(0.2)
    finally:
        client.close()


def _idle(worker: Worker, client: redis.Redis, inspector: object) -> bool:
    if client.llen(worker.queue):
        return False
    mine = f"{worker.queue}@"
    for probe in ("active", "reserved"):
        replies = getattr(inspector, probe)() or {}
        own = [tasks for name, tasks in replies.items() if name.startswith(mine)]
        if not own or any(own):  # no answer yet, or still busy
            return False
    return True


@contextmanager
def broker_down() -> Iterator[None]:
    """Point the test process's sends at a dead broker.

    The write URL, not `broker_url`: Celery reads `broker_url` from the CELERY_BROKER_URL
    environment variable first, so setting it on the config would silently change nothing.
    """
    previous = celery_app.conf.broker_write_url
    celery_app.conf.broker_write_url = DEAD_BROKER
    _reset_producer_pool()
    try:
        assert DEAD_BROKER.rsplit(":", 1)[1] in celery_app.connection_for_write().as_uri()
        yield
    finally:
        celery_app.conf.broker_write_url = previous
        _reset_producer_pool()
