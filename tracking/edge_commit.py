"""Group commit at the webhook edge: the rows of concurrent deliveries in one INSERT, one flush.

A delivery is acknowledged only once its row is durably committed, and each commit waits for a
WAL flush. Threads of one web process that arrive while a flush is in progress queue their rows;
when it ends, one of them (the leader) inserts every queued row with one multi-row
`INSERT … ON CONFLICT DO NOTHING RETURNING` in autocommit on its own connection, and each thread
returns only after that statement (its commit) has returned. Durability is unchanged (every row
is flushed before its 2xx); what the batch saves is the per-row statement, commit record and
round trip, in PostgreSQL and in Python. With one thread per process it degenerates to one row
per statement. A failed statement fails every delivery of its batch (each answers 5xx, nothing
is acknowledged), and the sender retries.

Only for PostgreSQL in autocommit: inside a transaction the row must belong to the caller's own
transaction, so `inbound_webhook_receive` inserts directly there.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, connection

# Rows per statement at most (a burst behind one flush is split into several statements).
MAX_BATCH = 64

_INSERT = (
    "INSERT INTO tracking_inboundwebhook (merchant_id, source, topic, unique_key, headers, body,"
    " state, error, attempts, deliveries, events_new, received_at) VALUES {values}"
    " ON CONFLICT (merchant_id, source, unique_key) DO NOTHING"
    " RETURNING id, merchant_id, source, unique_key"
)
_ROW = "(%s, %s, %s, %s, %s::jsonb, %s, %s, '', 0, 1, 0, %s)"


@dataclass(frozen=True)
class ReceivedRow:
    merchant_id: int
    source: str
    topic: str
    unique_key: str
    headers_json: str
    body: bytes
    state: str
    received_at: datetime


class _Waiting:
    __slots__ = ("done", "error", "id", "row")

    def __init__(self, row: ReceivedRow) -> None:
        self.row = row
        self.done = False
        self.id: int | None = None
        self.error: BaseException | None = None


_cond = threading.Condition()
_queue: list[_Waiting] = []
_flushing = False


def insert_received(row: ReceivedRow) -> int | None:
    """Insert one received webhook; its id, or None when its key is already stored.

    Returns once the statement holding the row has committed (autocommit); raises
    `DatabaseError` when that statement failed, so the caller answers an error, never a 2xx.
    """
    global _flushing
    me = _Waiting(row)
    with _cond:
        _queue.append(me)
        while not me.done:
            if _flushing:
                _cond.wait()
                continue
            _flushing = True
            batch = _queue[:MAX_BATCH]
            del _queue[:MAX_BATCH]
            _cond.release()
            try:
                _flush(batch)
            finally:
                for waiting in batch:  # interrupted before recording (not an Exception)
                    if not waiting.done:
                        waiting.error = DatabaseError("interrupted before the commit")
                        waiting.done = True
                _cond.acquire()
                _flushing = False
                _cond.notify_all()
    if me.error is not None:
        raise DatabaseError(f"webhook not stored: {me.error}") from me.error
    return me.id


def _flush(batch: Sequence[_Waiting]) -> None:
    """Insert the batch's rows in one statement; record each row's id or the error. Never raises."""
    params: list[int | str | bytes | datetime] = []
    # Rows in key order: two processes' batches sharing keys then wait on each other in one
    # order and cannot deadlock (a stable sort keeps arrival order among repeats of a key).
    for waiting in sorted(batch, key=lambda w: (w.row.merchant_id, w.row.source, w.row.unique_key)):
        r = waiting.row
        params += [
            r.merchant_id,
            r.source,
            r.topic,
            r.unique_key,
            r.headers_json,
            r.body,
            r.state,
            r.received_at,
        ]
    try:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT.format(values=", ".join([_ROW] * len(batch))), params)
            created = {(m, s, k): pk for pk, m, s, k in cursor.fetchall()}
    except Exception as exc:  # every delivery of the batch fails with it
        for waiting in batch:
            waiting.error = exc
            waiting.done = True
        return
    for waiting in batch:
        r = waiting.row
        # The same key twice in one batch: the first delivery inserted it, the others repeat it.
        waiting.id = created.pop((r.merchant_id, r.source, r.unique_key), None)
        waiting.done = True
