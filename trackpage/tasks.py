"""Tracking page's Celery tasks: thin, each calling one service.

* `trackpage.page_views_flush` writes the page views counted in Redis to PageView rows (beat,
  every `TRACKPAGE_VIEWS_FLUSH_SECONDS`); the pending counts are taken atomically, so runs that
  overlap never write a view twice.
* `trackpage.pages_render_ahead_recent` (beat, hourly) finds the orders changed in the last
  `TRACKPAGE_RENDER_AHEAD_DAYS` and fans out one `trackpage.pages_render_ahead_batch` per 200
  of them, which renders the pages not stored under their current key: after each midnight (the
  key holds the day) and after a cache flush, their pages are rendered by the workers rather than
  on a shopper's first view. Batches keep every task far inside its time limit however many
  orders are in flight (the backfill of 100,000 orders took 490 s on two threads here, so one
  task rendering them all ran into its 240 s limit), and spread over every worker; a batch that
  runs twice renders nothing the second time.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from postpurchase.tasking import platform_task
from trackpage import services


@platform_task(name="trackpage.page_views_flush", max_retries=0)
def page_views_flush() -> int:
    return services.page_views_flush()


RENDER_AHEAD_BATCH = 200


@platform_task(name="trackpage.pages_render_ahead_recent", max_retries=0)
def pages_render_ahead_recent() -> int:
    since = timezone.now() - timedelta(days=settings.TRACKPAGE_RENDER_AHEAD_DAYS)
    batches = services.render_ahead_batches(since=since, batch_size=RENDER_AHEAD_BATCH)
    for merchant_id, order_ids in batches:
        pages_render_ahead_batch.delay(merchant_id, order_ids)
    return len(batches)


@platform_task(name="trackpage.pages_render_ahead_batch", max_retries=0)
def pages_render_ahead_batch(merchant_id: int, order_ids: list[int]) -> int:
    return services.pages_render_ahead(merchant_id=merchant_id, order_ids=order_ids)
