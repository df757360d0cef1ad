"""Celery tasks of the store's data: thin, each calling one service.

* `commerce.purchase_stats_refresh` (beat, every `COMMERCE_PURCHASE_STATS_REFRESH_MINUTES`)
  syncs the purchase statistics of every order whose lines differ from what they contributed:
  orders written without an event (the console's order form, bulk loads) and deleted orders.
  Each batch commits on its own, so a run cut short by its time limit is continued by the next.
"""

from __future__ import annotations

from commerce import stats
from postpurchase.tasking import platform_task


@platform_task(
    name="commerce.purchase_stats_refresh", max_retries=0, soft_time_limit=1500, time_limit=1600
)
def purchase_stats_refresh() -> int:
    return stats.purchase_stats_refresh()
