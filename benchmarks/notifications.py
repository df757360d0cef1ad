"""Notification throughput: render, ledger and hand to the provider client a burst of deliveries.

    python benchmarks/notifications.py --json [--messages 5000]
        [--database-url postgres://postgres@127.0.0.1:5432/h_notify]
        [--broker-url redis://127.0.0.1:6379/7] [--sink-server aiosmtpd|lean]
        [--sink-pipelining]

What runs, for real: PostgreSQL, Redis as the Celery broker, Celery worker processes, the
platform's SMTP relay backend (Django's SMTP backend and smtplib underneath) talking to an SMTP sink
in a separate process on 127.0.0.1 (aiosmtpd, or with `--sink-server lean` a minimal asyncio SMTP
responder that uses less of the shared two cores). With `--sink-pipelining` the sink's EHLO
also offers PIPELINING (RFC 2920), as production relays do (Postfix, Exim, the ESPs' SMTP
endpoints); both sinks read commands in order from the stream, so they serve a pipelined
client correctly. Off by default: aiosmtpd does not offer it, and the recorded runs did without.

1. A burst of N `delivered` notifications is enqueued with `notifications_enqueue_many` in chunks
   of 200 (render in the sandboxed engine, CSS inlining, idempotency keys, consent and cap checks,
   the ledger rows), as a burst of outbox events does; each chunk's commit hands
   `notifications.messages_send` tasks (100 ids each) to Redis.
2. W Celery workers (`--pool=solo`) claim the messages, re-check consent and send them over SMTP.
   With W workers the burst is also enqueued by W producer processes (each a share), as W
   worker processes would each run outbox handlers in production.
3. The clock stops when every message is `sent`. Then the same burst is run again with W=2.

Every fifth chunk is enqueued twice (a redelivered event) and every send task is published twice
(a retried task); the sink counts each Message-ID it receives, so `duplicates` is the number of
messages that reached the provider more than once (it must be 0).

The last line of output is one JSON object: messages_per_s (1 worker), messages_per_s_two_workers,
duplicates, enqueue_per_s (the producer alone) and the run's parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import ensure_database, free_port  # noqa: E402 (after sys.path)

SINK_HASH = "bench:notifications:received"
BENCH_MERCHANT = "bench-notify"


def _redis(url: str):  # type: ignore[no-untyped-def]
    """A client whose BLPOP may wait its full timeout (redis-py 8 reads with a 5 s socket
    timeout by default, which cut the wait for a slower producer short on a busy machine)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=None)


# --- The SMTP sink (runs in its own process) ----------------------------------------------------


def _lean_smtp_server(port: int, on_message, pipelining: bool = False):  # type: ignore[no-untyped-def]
    """A minimal SMTP responder on asyncio streams (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
    QUIT), in a thread: ~5x less CPU per message than aiosmtpd, whose protocol machinery shares
    the benchmark's two cores with the pipeline being measured. Returns a stop function."""
    import asyncio
    import threading

    async def session(reader, writer) -> None:  # type: ignore[no-untyped-def]
        writer.write(b"220 sink ESMTP\r\n")
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"EHLO":
                    offer = b"250-PIPELINING\r\n" if pipelining else b""
                    writer.write(b"250-sink\r\n" + offer + b"250 8BITMIME\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
                    on_message(await reader.readuntil(b"\r\n.\r\n"))
                    writer.write(b"250 OK\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:  # HELO, MAIL, RCPT, RSET, NOOP
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        finally:
            writer.close()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        asyncio.start_server(session, "127.0.0.1", port, limit=1 << 24)
    )
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def stop() -> None:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    return stop


def run_sink(port: int, redis_url: str, server: str = "aiosmtpd", pipelining: bool = False) -> None:
    """Count each Message-ID received; counts go to Redis every 0.1 s (not per message, so the
    sink's own round trips do not slow the SMTP exchange it measures)."""
    import threading
    from collections import Counter as Tally

    from aiosmtpd.controller import Controller

    store = _redis(redis_url)
    message_id = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
    pending: Tally[bytes] = Tally()
    lock = threading.Lock()

    class Counter:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
            session.host_name = hostname  # what aiosmtpd does itself without this hook
            if pipelining:
                responses.insert(-1, "250-PIPELINING")
            return responses

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            count(envelope.original_content or b"")
            return "250 OK"

    def flush() -> None:
        with lock:
            counts = dict(pending)
            pending.clear()
        if counts:
            pipe = store.pipeline(transaction=False)
            for key, count in counts.items():
                pipe.hincrby(SINK_HASH, key, count)
            pipe.execute()

    def count(content: bytes) -> None:
        found = message_id.search(content)
        with lock:
            pending[found.group(1) if found else b"?"] += 1

    if server == "lean":
        stop_server = _lean_smtp_server(port, count, pipelining)
    else:
        controller = Controller(Counter(), hostname="127.0.0.1", port=port)
        controller.start()
        stop_server = controller.stop
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    print("sink ready", flush=True)
    while not stop:
        time.sleep(0.1)
        flush()
    stop_server()
    flush()


# --- The benchmark -------------------------------------------------------------------------------


def _env(args: argparse.Namespace, smtp_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "postpurchase.settings",
            "DATABASE_URL": args.database_url,
            "CELERY_BROKER_URL": args.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "EMAIL_BACKEND": "notifications.channels.smtp_backend.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "NOTIFICATIONS_SEND_BATCH": "100",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def _start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    celery = str(Path(sys.executable).with_name("celery"))
    command = [celery, "-A", "postpurchase", "worker", "--pool=solo", "--loglevel=WARNING"]
    command += ["--without-gossip", "--without-mingle"]
    return [
        subprocess.Popen(
            [*command, "-n", f"notifybench{index}@%h"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for index in range(count)
    ]


def _wait_for_workers(app, count: int, timeout: float = 180.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        names = {name for reply in replies for name in reply if name.startswith("notifybench")}
        if len(names) >= count:
            return
    raise SystemExit(f"only {len(names)} of {count} workers answered within {timeout:.0f}s")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _prepare(merchant_slug: str):  # type: ignore[no-untyped-def]
    from notifications.models import (
        Channel,
        DueSend,
        Message,
        MessageEvent,
        MessagingSettings,
        TriggerToggle,
    )
    from postpurchase.models import Merchant

    merchant, _ = Merchant.objects.get_or_create(
        slug=merchant_slug,
        defaults={
            "name": "Benchmark Outfitters",
            "time_zone": "America/New_York",
            "email_from_address": "hello@bench.example",
            "support_email": "help@bench.example",
        },
    )
    MessagingSettings.objects.update_or_create(
        merchant=merchant, defaults={"quiet_hours_enabled": False}
    )
    for channel in (Channel.SMS, Channel.PUSH):
        TriggerToggle.objects.update_or_create(
            merchant=merchant, trigger="delivered", channel=channel, defaults={"enabled": False}
        )
    DueSend.objects.filter(merchant=merchant).delete()
    MessageEvent.objects.filter(merchant=merchant).delete()
    Message.objects.filter(merchant=merchant).delete()
    # The deleted rows of earlier runs stay in the tables and their unique index until vacuumed
    # (autovacuum lags on a busy machine): measured, they tripled PostgreSQL's CPU per insert.
    from django.db import connection

    with connection.cursor() as cursor:
        for model in (Message, MessageEvent, DueSend):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return merchant


def _requests(run: str, count: int):  # type: ignore[no-untyped-def]
    from datetime import date

    from notifications.domain import ItemLine, Recipient, ShipmentNotice
    from notifications.services import NotificationRequest

    titles = ["Merino crew sock", "Canvas tote", "Rain shell", "Wool beanie", "Trail runner"]
    for index in range(count):
        yield NotificationRequest(
            trigger="delivered",
            recipient=Recipient(
                name=f"Shopper {index}",
                first_name=f"Shopper{index}",
                email=f"shopper{index}@bench.example",
                language="ja" if index % 4 == 0 else "en",
                time_zone="America/New_York",
                customer_ref=f"c{index}",
            ),
            context=ShipmentNotice(
                order_number=str(100000 + index),
                items=(ItemLine(titles[index % len(titles)], 1 + index % 3),),
                carrier="ups",
                tracking_number=f"1Z{index:016d}",
                tracking_ref=f"pub{index}",
                status="delivered",
                estimate_start=date(2026, 11, 26),
                estimate_end=date(2026, 11, 27),
                destination_time_zone="America/New_York",
            ),
            event_id=f"{run}:evt:{index}",
            order_ref=str(100000 + index),
            customer_ref=f"c{index}",
        )


def _produce(merchant, requests, bar=None) -> None:  # type: ignore[no-untyped-def]
    """Enqueue in chunks of 200; every fifth chunk twice, and its send tasks published twice."""
    from django.db import transaction

    from notifications.services import notifications_enqueue_many
    from notifications.tasks import messages_send

    chunk = 200
    for number, start in enumerate(range(0, len(requests), chunk)):
        part = requests[start : start + chunk]
        with transaction.atomic():
            created = notifications_enqueue_many(merchant=merchant, requests=part)
        ids = [m.pk for m in created]
        if number % 5 == 0:  # a redelivered burst: no new messages
            with transaction.atomic():
                assert notifications_enqueue_many(merchant=merchant, requests=part) == []
            for at in range(0, len(ids), 100):  # and retried send tasks
                messages_send.delay(ids[at : at + 100])
        if bar is not None:
            bar.update(len(part))


def run_producer(run: str, count: int, start: int, stop: int, broker_url: str) -> None:
    """A second producer process: enqueue its slice of the burst when told to go."""
    import django

    django.setup()

    from postpurchase.models import Merchant

    store = _redis(broker_url)
    merchant = Merchant.objects.get(slug=BENCH_MERCHANT)
    requests = list(_requests(run, count))[start:stop]
    store.rpush(f"{SINK_HASH}:ready:{run}", 1)
    store.blpop([f"{SINK_HASH}:go:{run}"], timeout=120)
    cpu_before = time.process_time()
    _produce(merchant, requests)
    store.rpush(f"{SINK_HASH}:done:{run}", time.process_time() - cpu_before)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:  # gone
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PostgresCpu:
    """CPU of the PostgreSQL backends serving the benchmark's database during a phase.

    Backends are listed every sample; one seen before the phase starts counts from its CPU then,
    one born during the phase counts whole. A backend that exits mid-phase keeps its last sample.
    """

    def __init__(self) -> None:
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def _backends(self) -> list[int]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend'"
            )
            return [row[0] for row in cursor.fetchall()]

    def begin(self) -> None:
        self.start = {pid: _cpu_seconds(pid) for pid in self._backends()}
        self.last = dict(self.start)

    def sample(self) -> None:
        for pid in self._backends():
            self.start.setdefault(pid, 0.0)
            self.last[pid] = _cpu_seconds(pid) or self.last.get(pid, 0.0)

    def seconds(self) -> float:
        return sum(max(0.0, self.last[pid] - self.start[pid]) for pid in self.last)


def _loadavg() -> float:
    with open("/proc/loadavg") as loadavg:
        return float(loadavg.read().split()[0])


def _slices(count: int, parts: int) -> list[tuple[int, int]]:
    size = -(-count // parts)
    return [(at, min(at + size, count)) for at in range(0, count, size)]


def _burst(merchant, count: int, workers: int, env, app, store, sink_pid: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    from notifications.models import Message, MessageStatus

    run = uuid.uuid4().hex[:8]
    requests = list(_requests(run, count))
    slices = _slices(count, workers)  # one producer per worker: each process enqueues a share
    processes = _start_workers(workers, env)
    producers = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--produce",
                "--run",
                run,
                "--messages",
                str(count),
                "--slice",
                f"{a}:{b}",
                "--broker-url",
                env["CELERY_BROKER_URL"],
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for a, b in slices[1:]
    ]
    try:
        _wait_for_workers(app, workers)
        for _ in producers:
            if store.blpop([f"{SINK_HASH}:ready:{run}"], timeout=120) is None:
                raise SystemExit("a producer process did not start")
        store.delete(SINK_HASH)
        postgres = PostgresCpu()
        postgres.begin()
        load_before = _loadavg()
        cpu_before = {p.pid: _cpu_seconds(p.pid) for p in [*processes]}
        sink_before = _cpu_seconds(sink_pid)
        own_before = time.process_time()
        started = time.perf_counter()
        if producers:
            store.rpush(f"{SINK_HASH}:go:{run}", *([1] * len(producers)))
        own = requests[slices[0][0] : slices[0][1]]
        with tqdm(
            total=len(own),
            desc=f"enqueue ({workers} worker{'s' if workers > 1 else ''}, own share)",
            unit="msg",
            file=sys.stderr,
        ) as bar:
            _produce(merchant, own, bar)
        producer_cpu = time.process_time() - own_before
        for _ in producers:
            done = store.blpop([f"{SINK_HASH}:done:{run}"], timeout=600)
            if done is None:
                raise SystemExit("a producer process did not finish")
            producer_cpu += float(done[1])
        enqueued = time.perf_counter()
        sent = 0
        with tqdm(total=count, desc="sent", unit="msg", file=sys.stderr) as bar:
            while sent < count:
                time.sleep(0.2)
                now_sent = Message.objects.filter(
                    merchant=merchant, status=MessageStatus.SENT
                ).count()
                bar.update(now_sent - sent)
                sent = now_sent
                postgres.sample()
                if time.perf_counter() - started > 600:
                    raise SystemExit(f"only {sent} of {count} sent after 10 minutes")
        finished = time.perf_counter()
        postgres.sample()
        worker_cpu = sum(_cpu_seconds(p.pid) - cpu_before[p.pid] for p in processes)
        sink_cpu = _cpu_seconds(sink_pid) - sink_before
        load_after = _loadavg()
        time.sleep(1.0)  # late duplicates, if any, would arrive now
        received = {k: int(v) for k, v in store.hgetall(SINK_HASH).items()}
    finally:
        _stop(processes)
        for producer in producers:
            try:
                producer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                producer.kill()
    return {
        "messages_per_s": count / (finished - started),
        "enqueue_per_s": count / (enqueued - started),
        "seconds": finished - started,
        "received": float(sum(received.values())),
        "duplicates": float(sum(n - 1 for n in received.values() if n > 1)),
        "unique_received": float(len(received)),
        "cpu_ms_per_message": {
            "producers": round(1000 * producer_cpu / count, 3),
            "workers": round(1000 * worker_cpu / count, 3),
            "postgres": round(1000 * postgres.seconds() / count, 3),
            "sink": round(1000 * sink_cpu / count, 3),
            "total": round(
                1000 * (producer_cpu + worker_cpu + postgres.seconds() + sink_cpu) / count, 3
            ),
        },
        "load_average": [load_before, load_after],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/h_notify"),
    )
    parser.add_argument(
        "--broker-url", default=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument(
        "--sink-server",
        choices=("aiosmtpd", "lean"),
        default="aiosmtpd",
        help="the SMTP sink: aiosmtpd (as recorded so far) or a minimal asyncio responder that "
        "takes less of the two cores from the pipeline measured",
    )
    parser.add_argument(
        "--sink-pipelining",
        action="store_true",
        help="the sink's EHLO offers PIPELINING (RFC 2920), as production relays' do",
    )
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--produce", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", default="", help=argparse.SUPPRESS)
    parser.add_argument("--slice", default="0:0", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(args.port, args.broker_url, args.sink_server, args.sink_pipelining)
        return
    if args.produce:
        start, stop = (int(x) for x in args.slice.split(":"))
        run_producer(args.run, args.messages, start, stop, args.broker_url)
        return
    if not args.database_url.startswith("postgres"):
        raise SystemExit("this benchmark needs PostgreSQL: pass --database-url postgres://...")

    ensure_database(args.database_url)
    smtp_port = free_port()
    env = _env(args, smtp_port)
    os.environ.update(env)
    sink = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--sink",
            "--port",
            str(smtp_port),
            "--broker-url",
            args.broker_url,
            "--sink-server",
            args.sink_server,
            *(["--sink-pipelining"] if args.sink_pipelining else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert sink.stdout is not None
        if b"sink ready" not in sink.stdout.readline():
            raise SystemExit("the SMTP sink did not start")
        import django

        django.setup()
        from django.core.management import call_command

        from postpurchase.celery import app

        call_command("migrate", verbosity=0)
        store = _redis(args.broker_url)
        app.control.purge()
        results = {}
        for workers in (1, 2):
            merchant = _prepare(BENCH_MERCHANT)
            results[workers] = _burst(merchant, args.messages, workers, env, app, store, sink.pid)
            print(
                f"{workers} worker(s): {results[workers]['messages_per_s']:.0f} msg/s end to end, "
                f"enqueue {results[workers]['enqueue_per_s']:.0f} msg/s, "
                f"{results[workers]['unique_received']:.0f} received, "
                f"{results[workers]['duplicates']:.0f} duplicates; "
                f"CPU ms/message {results[workers]['cpu_ms_per_message']}, "
                f"load {results[workers]['load_average']}",
                file=sys.stderr,
            )
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=20)
    summary = {
        "messages": args.messages,
        "messages_per_s": round(results[1]["messages_per_s"], 1),
        "messages_per_s_two_workers": round(results[2]["messages_per_s"], 1),
        "enqueue_per_s": round(results[1]["enqueue_per_s"], 1),
        "duplicates": int(results[1]["duplicates"] + results[2]["duplicates"]),
        "missing": int(
            2 * args.messages - results[1]["unique_received"] - results[2]["unique_received"]
        ),
        "cpu_ms_per_message": results[1]["cpu_ms_per_message"],
        "cpu_ms_per_message_two_workers": results[2]["cpu_ms_per_message"],
        "load_average": results[1]["load_average"],
        "load_average_two_workers": results[2]["load_average"],
        "database": "postgresql",
        "broker": "redis",
        "provider": f"smtp sink on 127.0.0.1 ({args.sink_server}"
        f"{', PIPELINING offered' if args.sink_pipelining else ''})",
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(summary)


if __name__ == "__main__":
    main()
