"""manage.py trackpage_render_ahead — render the tracking pages of recent orders into the cache.

New scans, status changes and orders render their page as they happen (the
`trackpage.page_render_ahead` handler); this fills the cache for the orders that changed before
(after a deploy, a cache flush, or each day after midnight, since a page's key holds the day).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import timedelta
from typing import Any

from django import db
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from tqdm import tqdm

from trackpage import services


def _render_part(merchant_id: int, order_ids: list[int]) -> tuple[int, int]:
    """One batch in a worker process: (orders looked at, pages rendered)."""
    return len(order_ids), services.pages_render_ahead(merchant_id=merchant_id, order_ids=order_ids)


def _fresh_connections() -> None:
    """A forked worker must not share the parent's database sockets."""
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
            "--processes",
            type=int,
            default=1,
            help="render in this many processes (rendering is CPU-bound: up to one per core)",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        since = timezone.now() - timedelta(days=options["days"])
        batches = list(services.render_ahead_order_ids(since=since))
        total = sum(len(ids) for _, ids in batches)
        size = max(1, options["batch_size"])
        parts = [
            (merchant_id, ids[start : start + size])
            for merchant_id, ids in batches
            for start in range(0, len(ids), size)
        ]
        rendered = 0
        with tqdm(
            total=total,
            unit="order",
            desc="render ahead",
            disable=options["no_progress"],
            file=self.stderr._out,
        ) as bar:
            for looked_at, done in self._run(parts, max(1, options["processes"])):
                rendered += done
                bar.update(looked_at)
        self.stdout.write(f"{total} orders, {rendered} pages rendered")

    def _run(self, parts: list[tuple[int, list[int]]], processes: int) -> Iterator[tuple[int, int]]:
        if processes == 1:
            for merchant_id, ids in parts:
                yield _render_part(merchant_id, ids)
            return
        db.connections.close_all()  # children fork without the parent's sockets
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=processes, mp_context=context, initializer=_fresh_connections
        ) as pool:
            futures = [pool.submit(_render_part, merchant_id, ids) for merchant_id, ids in parts]
            for future in as_completed(futures):
                yield future.result()
