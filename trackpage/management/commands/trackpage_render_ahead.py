"""manage.py trackpage_render_ahead — render the tracking pages of recent orders into the cache.

New scans, status changes and orders render their page as they happen (the
`trackpage.page_render_ahead` handler); this fills the cache for the orders that changed before
(after a deploy, a cache flush, or each day after midnight, since a page's key holds the day).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from typing import Any

from django import db
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from tqdm import tqdm

from trackpage import services


def _render_part(merchant_id: int, order_ids: list[int]) -> tuple[int, int]:
    """One batch: (orders looked at, pages rendered)."""
    return len(order_ids), services.pages_render_ahead(merchant_id=merchant_id, order_ids=order_ids)


def _render_part_in_thread(merchant_id: int, order_ids: list[int]) -> tuple[int, int]:
    """One batch on a pool thread, which has a database connection of its own; closed after."""
    try:
        return _render_part(merchant_id, order_ids)
    finally:
        db.connections.close_all()


class Command(BaseCommand):
    help = (
        "Render the tracking pages of orders whose shipments changed (or that were placed) in "
        "the last --days days into the page cache, so their first view is a cache hit. "
        "See docs/tracking-page.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.TRACKPAGE_RENDER_AHEAD_DAYS)
        parser.add_argument("--batch-size", type=int, default=200, help="orders per batch")
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            help="render batches on this many threads (each with its own database connection)",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        since = timezone.now() - timedelta(days=options["days"])
        parts = services.render_ahead_batches(since=since, batch_size=options["batch_size"])
        total = sum(len(ids) for _, ids in parts)
        rendered = 0
        with tqdm(
            total=total,
            unit="order",
            desc="render ahead",
            disable=options["no_progress"],
            file=self.stderr._out,
        ) as bar:
            for looked_at, done in self._run(parts, max(1, options["threads"])):
                rendered += done
                bar.update(looked_at)
        self.stdout.write(f"{total} orders, {rendered} pages rendered")

    def _run(self, parts: list[tuple[int, list[int]]], threads: int) -> Iterator[tuple[int, int]]:
        if threads == 1:
            for merchant_id, ids in parts:
                yield _render_part(merchant_id, ids)
            return
        # About half of a page's time is the database's (recommendations), so threads overlap
        # one batch's queries with another's rendering. Threads, not forked processes: a fork
        # would inherit the parent's broker and database sockets.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(_render_part_in_thread, m, ids) for m, ids in parts]
            for future in as_completed(futures):
                yield future.result()
