"""Kernel tasks: dispatch one domain event or a batch of them; sweep the outbox for events left
behind; purge expired Idempotency-Key records."""

from postpurchase import outbox
from postpurchase.idempotency import idempotency_records_purge
from postpurchase.tasking import platform_task


@platform_task(name="postpurchase.events_dispatch")
def events_dispatch(event_id: str) -> bool:
    return outbox.event_dispatch(event_id=event_id)


@platform_task(name="postpurchase.events_dispatch_batch")
def events_dispatch_batch(event_ids: list[str]) -> int:
    """Dispatch the events of one `publish_many` (or one sweep); returns how many still wait."""
    return len(outbox.events_dispatch_many(event_ids=event_ids))


@platform_task(name="postpurchase.events_sweep", max_retries=0)
def events_sweep() -> int:
    ids = outbox.events_due_for_sweep()
    for start in range(0, len(ids), outbox.DISPATCH_BATCH_SIZE):
        events_dispatch_batch.delay(ids[start : start + outbox.DISPATCH_BATCH_SIZE])
    return len(ids)


@platform_task(name="postpurchase.idempotency_purge", max_retries=0)
def idempotency_purge() -> int:
    """Delete expired Idempotency-Key records (a bounded batch per run)."""
    return idempotency_records_purge()
