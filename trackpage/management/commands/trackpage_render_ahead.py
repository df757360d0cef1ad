"""manage.py trackpage_render_ahead — render the tracking pages of recent orders into the cache.

New scans, status changes and orders render their page as they happen (the
`trackpage.page_render_ahead` handler); this fills the cache for the orders that changed before
(after a deploy, a cache flush, or each day after midnight, since a page's key holds the day).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from tqdm import tqdm

from trackpage import services


class Command(BaseCommand):
    help = (
        "Render the tracking pages of orders whose shipments changed (or that were placed) in "
        "the last --days days into the page cache, so their first view is a cache hit. "
        "See docs/tracking-page.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.TRACKPAGE_RENDER_AHEAD_DAYS)
        parser.add_argument("--batch-size", type=int, default=200, help="orders per batch")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        since = timezone.now() - timedelta(days=options["days"])
        batches = list(services.render_ahead_order_ids(since=since))
        total = sum(len(ids) for _, ids in batches)
        size = max(1, options["batch_size"])
        rendered = 0
        with tqdm(
            total=total,
            unit="order",
            desc="render ahead",
            disable=options["no_progress"],
            file=self.stderr._out,
        ) as bar:
            for merchant_id, ids in batches:
                for start in range(0, len(ids), size):
                    part = ids[start : start + size]
                    rendered += services.pages_render_ahead(merchant_id=merchant_id, order_ids=part)
                    bar.update(len(part))
        self.stdout.write(f"{total} orders, {rendered} pages rendered")
