"""Tracking's Celery tasks: thin, idempotent, each calling one service.

* `tracking.webhook_process` drains received webhooks in batches (claims with SKIP LOCKED, so
  several may run at once; a row is processed by whichever claims it).
* `tracking.webhooks_sweep` returns rows of dead workers to the queue and restarts processing
  when webhooks wait (broker was down when they arrived).
* `tracking.poll_due` leases due shipments per carrier budget, fans out `tracking.shipments_poll`.
* `tracking.shipments_sweep_quiet` publishes `shipment.stalled` and expires silent shipments.
"""

from __future__ import annotations

from postpurchase.tasking import platform_task
from tracking import ingest, polling

POLL_CHUNK = 25


@platform_task(name="tracking.webhook_process", max_retries=3, soft_time_limit=120, time_limit=150)
def webhook_process() -> int:
    outcome, drained = ingest.webhooks_drain(time_budget=60.0)
    if not drained:
        webhook_process.apply_async(**ingest.processing_route())
    return outcome.claimed


@platform_task(name="tracking.webhooks_sweep", max_retries=0)
def webhooks_sweep() -> int:
    released = ingest.webhooks_release_stuck()
    if released or ingest.webhooks_waiting():
        webhook_process.apply_async(**ingest.processing_route())
    return released


@platform_task(name="tracking.poll_due", max_retries=0)
def poll_due() -> int:
    claimed = polling.poll_due_claim(carriers=list(polling.pollable_carriers()))
    count = 0
    for ids in claimed.values():
        for start in range(0, len(ids), POLL_CHUNK):
            shipments_poll.delay(ids[start : start + POLL_CHUNK])
        count += len(ids)
    return count


@platform_task(name="tracking.shipments_poll", max_retries=0)
def shipments_poll(shipment_ids: list[int]) -> int:
    return polling.shipments_poll(shipment_ids=shipment_ids).polled


@platform_task(name="tracking.shipments_sweep_quiet", max_retries=0)
def shipments_sweep_quiet() -> int:
    outcome = polling.shipments_sweep_quiet()
    return outcome.stalled + outcome.expired
