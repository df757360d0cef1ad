"""Group commit at the webhook edge: the rows of concurrent deliveries in one INSERT, one flush.

A delivery is acknowledged only once its row is durably committed, and each commit waits for a
WAL flush. Threads of one web process that arrive while a flush is in progress queue their rows;
when it ends, the first of them becomes the leader and inserts every queued row with one
multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` in autocommit, and each thread returns only
after that statement (its commit) has returned. Durability is unchanged (every row is flushed
before its 2xx); what the batch saves is the per-row statement, commit record and round trip, in
PostgreSQL and in Python. With one thread per process it degenerates to one row per statement. A
failed statement fails every delivery of its batch (each answers 5xx, nothing is acknowledged),
and the sender retries.

Cheap per delivery, because a web process answers thousands a second:

* **One connection per process**, not the request thread's. Only one statement is in flight per
  process at a time anyway, so the leader of the moment uses the process's edge connection (a
  private Django connection to the default database, shared between threads under the flush).
  The statement goes through psycopg directly with server-side parameters, prepared once per
  batch size; Django's per-request health check (`SELECT 1`, a round trip) is replaced by one
  only when the connection has been idle for `IDLE_CHECK_SECONDS`: a connection that committed a
  moment ago is known to be alive, and if it breaks in between, the statement fails like any
  other (5xx, the sender retries) and the next batch reconnects.
* **One wake-up per delivery.** Each waiting thread sleeps on a lock of its own; the leader
  releases exactly the threads of its batch, and hands the leadership to the first thread still
  queued (no thundering herd on a condition variable).

Only for PostgreSQL in autocommit: inside a transaction the row must belong to the caller's own
transaction, so `inbound_webhook_receive` inserts directly there.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from django.db import DatabaseError, connections

# Rows per statement at most (a burst behind one flush is split into several statements).
MAX_BATCH = 64
# A connection unused for longer than this is checked (`SELECT 1`) before the next statement.
IDLE_CHECK_SECONDS = 1.0

_INSERT = (
    "INSERT INTO tracking_inboundwebhook (merchant_id, source, topic, unique_key, headers, body,"
    " state, error, attempts, deliveries, events_new, received_at) VALUES {values}"
    " ON CONFLICT (merchant_id, source, unique_key) DO NOTHING"
    " RETURNING id, merchant_id, source, unique_key"
)
_ROW = "(%s, %s, %s, %s, %s::jsonb, %s, %s, '', 0, 1, 0, %s)"
# The statement text per batch size (psycopg prepares each one once per connection).
_STATEMENTS = [""] + [_INSERT.format(values=", ".join([_ROW] * n)) for n in range(1, MAX_BATCH + 1)]


class ReceivedRow(NamedTuple):
    merchant_id: int
    source: str
    topic: str
    unique_key: str
    headers_json: str
    body: bytes
    state: str
    received_at: datetime


class _Waiting:
    __slots__ = ("done", "error", "id", "lead", "row", "wake")

    def __init__(self, row: ReceivedRow) -> None:
        self.row = row
        self.done = False
        self.lead = False
        self.id: int | None = None
        self.error: BaseException | None = None
        self.wake: Any = None  # a lock held until this thread may go on


_mutex = threading.Lock()
_queue: list[_Waiting] = []
_flushing = False


def insert_received(row: ReceivedRow) -> int | None:
    """Insert one received webhook; its id, or None when its key is already stored.

    Returns once the statement holding the row has committed (autocommit); raises
    `DatabaseError` when that statement failed, so the caller answers an error, never a 2xx.
    """
    global _flushing
    me = _Waiting(row)
    with _mutex:
        if _flushing:
            me.wake = threading.Lock()
            me.wake.acquire()
            _queue.append(me)
        else:
            _flushing = True
            me.lead = True
    if not me.lead:
        me.wake.acquire()  # released by the leader: either done, or the leader now
    if not me.done:
        _lead(me)
    if me.error is not None:
        raise DatabaseError(f"webhook not stored: {me.error}") from me.error
    return me.id


def _lead(me: _Waiting) -> None:
    """Flush one batch (this thread's row first), then pass the leadership on."""
    global _flushing
    with _mutex:
        batch = [me, *_queue[: MAX_BATCH - 1]]
        del _queue[: MAX_BATCH - 1]
    try:
        _flush(batch)
    finally:
        for waiting in batch:  # interrupted before recording (not an Exception)
            if not waiting.done:
                waiting.error = DatabaseError("interrupted before the commit")
                waiting.done = True
        successor: _Waiting | None = None
        with _mutex:
            if _queue:
                successor = _queue.pop(0)
                successor.lead = True
            else:
                _flushing = False
        if successor is not None:
            successor.wake.release()
        for waiting in batch:
            if waiting is not me:
                waiting.wake.release()


def _flush(batch: Sequence[_Waiting]) -> None:
    """Insert the batch's rows in one statement; record each row's id or the error. Never raises."""
    params: list[int | str | bytes | datetime] = []
    # Rows in key order: two processes' batches sharing keys then wait on each other in one
    # order and cannot deadlock (a stable sort keeps arrival order among repeats of a key).
    for waiting in sorted(batch, key=lambda w: (w.row[0], w.row[1], w.row[3])):
        params += waiting.row
    try:
        rows = _edge.execute(_STATEMENTS[len(batch)], params)
    except Exception as exc:  # every delivery of the batch fails with it
        for waiting in batch:
            waiting.error = exc
            waiting.done = True
        return
    created = {(m, s, k): pk for pk, m, s, k in rows}
    for waiting in batch:
        r = waiting.row
        # The same key twice in one batch: the first delivery inserted it, the others repeat it.
        waiting.id = created.pop((r[0], r[1], r[3]), None)
        waiting.done = True


class _EdgeConnection:
    """The process's connection for the edge's statements, used by one leader at a time."""

    def __init__(self) -> None:
        self.wrapper: Any = None
        self.last_used = 0.0

    def execute(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raw = self._connection()
        try:
            with psycopg.Cursor(raw) as cursor:
                cursor.execute(statement, params, prepare=True)
                rows = cursor.fetchall()
        except Exception:
            if raw.closed or raw.broken:
                self.close()  # the next batch connects again
            raise
        self.last_used = time.monotonic()
        return rows

    def _connection(self) -> psycopg.Connection[Any]:
        wrapper = self.wrapper
        if wrapper is not None and (
            wrapper.connection is None
            or wrapper.connection.closed
            or (time.monotonic() - self.last_used > IDLE_CHECK_SECONDS and not wrapper.is_usable())
        ):
            self.close()
            wrapper = None
        if wrapper is None:
            # A private Django connection (not the request thread's): Django's settings, options
            # and session set-up, in autocommit; shared by the threads that lead in turn.
            wrapper = connections.create_connection("default")
            wrapper.inc_thread_sharing()
            wrapper.ensure_connection()
            self.wrapper = wrapper
        return wrapper.connection

    def close(self) -> None:
        wrapper, self.wrapper = self.wrapper, None
        if wrapper is not None:
            with contextlib.suppress(DatabaseError):
                wrapper.close()


_edge = _EdgeConnection()


def close_connection() -> None:
    """Close this process's edge connection (tests before dropping their database; shutdown)."""
    with _mutex:
        _edge.close()


def _after_fork() -> None:
    # A forked child must not use its parent's socket: it opens its own on first use.
    global _mutex, _flushing
    _mutex = threading.Lock()
    _queue.clear()
    _flushing = False
    _edge.wrapper = None


os.register_at_fork(after_in_child=_after_fork)
