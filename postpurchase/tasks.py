"""Kernel tasks: dispatch one domain event; sweep the outbox for events left behind; purge
expired Idempotency-Key records."""

from postpurchase import outbox
from postpurchase.idempotency import idempotency_records_purge
from postpurchase.tasking import platform_task


@platform_task(name="postpurchase.events_dispatch")
def events_dispatch(event_id: str) -> bool:
    return outbox.event_dispatch(event_id=event_id)


@platform_task(name="postpurchase.events_sweep", max_retries=0)
def events_sweep() -> int:
    ids = outbox.events_due_for_sweep()
    for event_id in ids:
        events_dispatch.delay(event_id)
    return len(ids)


@platform_task(name="postpurchase.idempotency_purge", max_retries=0)
def idempotency_purge() -> int:
    """Delete expired Idempotency-Key records (a bounded batch per run)."""
    return idempotency_records_purge()
