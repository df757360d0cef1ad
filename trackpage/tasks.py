"""Tracking page's Celery tasks: thin, each calling one service.

* `trackpage.page_views_flush` writes the page views counted in Redis to PageView rows (beat,
  every `TRACKPAGE_VIEWS_FLUSH_SECONDS`); the pending counts are taken atomically, so runs that
  overlap never write a view twice.
"""

from __future__ import annotations

from postpurchase.tasking import platform_task
from trackpage import services


@platform_task(name="trackpage.page_views_flush", max_retries=0)
def page_views_flush() -> int:
    return services.page_views_flush()
