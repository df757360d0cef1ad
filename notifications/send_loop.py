"""The send task's loop: keep the provider busy while the database work of the next batch runs.

A send task used to claim its batch, check consent, send, write the outcomes and return, and the
worker then fetched the next task: the SMTP link (and the relay) sat idle through the claim, the
consent reads and the outcome statement of every batch, about a third of a solo worker's time in
the benchmark. Here the task sends its own messages and then, for up to
`NOTIFICATIONS_SEND_LOOP_SECONDS`, goes on with the oldest queued messages (`claim_queued`),
whichever task they were queued for. The deliveries run one at a time on a helper thread, which
touches no database; on the task's own thread, while batch N is with the provider, batch N-1's
outcomes are written and batch N+1 is claimed and checked for consent, so N+1 goes out as soon
as N is done.

Exactly-once is the claim's (`queued -> sending` under SKIP LOCKED): a task whose messages a
loop already sent finds nothing to do. Consent and suppression are checked when a batch is
claimed, one delivery before it is sent at most. A worker killed mid-loop leaves at most two
batches in `sending` (the one with the provider and the one waiting), which the stuck sweep
marks failed, as for a worker killed in a single batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields

from django.conf import settings

from notifications.sending import (
    Deliveries,
    SendBatch,
    SendSummary,
    claim,
    claim_queued,
    deliver,
    prepare,
    record,
)


def messages_send_loop(*, message_ids: Sequence[int], seconds: float) -> SendSummary:
    """Send the queued messages among `message_ids`, then other queued messages for up to
    `seconds` (0: only these), each next batch claimed while the current one is being sent."""
    deadline = time.monotonic() + seconds
    limit = settings.NOTIFICATIONS_SEND_BATCH
    batch = prepare(claim(message_ids))
    if batch is None and seconds > 0:
        batch = prepare(claim_queued(limit))
    total = SendSummary()
    in_flight: tuple[SendBatch, Future[Deliveries]] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="send") as pool:
        while batch is not None or in_flight is not None:
            # Queued behind the delivery in flight, if any: the helper thread goes straight on.
            started = (batch, pool.submit(deliver, batch)) if batch is not None else None
            if in_flight is not None:
                total = _add(total, record(in_flight[0], in_flight[1].result()))
            in_flight, batch = started, None
            if in_flight is not None and time.monotonic() < deadline:
                batch = prepare(claim_queued(limit))
    return total


def _add(a: SendSummary, b: SendSummary) -> SendSummary:
    return SendSummary(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(a)})
