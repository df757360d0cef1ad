"""Tracking page's Celery tasks: thin, each calling one service.

* `trackpage.page_views_flush` writes the page views counted in Redis to PageView rows (beat,
  every `TRACKPAGE_VIEWS_FLUSH_SECONDS`); the pending counts are taken atomically, so runs that
  overlap never write a view twice.
* `trackpage.pages_render_ahead_recent` (beat, hourly) renders ahead the pages of orders changed
  in the last `TRACKPAGE_RENDER_AHEAD_DAYS` that are not stored under their current key: after
  each midnight (the key holds the day) and after a cache flush, their pages are rendered here
  rather than on a shopper's first view.
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


@platform_task(name="trackpage.pages_render_ahead_recent", max_retries=0)
def pages_render_ahead_recent() -> int:
    since = timezone.now() - timedelta(days=settings.TRACKPAGE_RENDER_AHEAD_DAYS)
    return services.pages_render_ahead_recent(since=since)
