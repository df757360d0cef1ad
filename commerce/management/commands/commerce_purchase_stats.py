"""manage.py commerce_purchase_stats — build (or catch up) the purchase statistics.

The bought-together and best-seller figures behind recommendations are kept by the
`commerce.purchase_stats_sync` handler as orders arrive and change. Run this once after the
migration that adds them (or after loading orders without events); it syncs every order whose
lines differ from what it contributed, merchant by merchant, with a progress bar. Safe to run at
any time and to interrupt: each batch commits on its own and a second run only does what is left.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from tqdm import tqdm

from commerce import stats
from commerce.models import CoPurchase, ProductSales, PurchaseCounted
from postpurchase.models import Merchant


class Command(BaseCommand):
    help = (
        "Sync the purchase statistics (bought together, best sellers) with every order whose "
        "lines changed without an event, or build them the first time. See "
        "docs/tracking-page.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", help="only this merchant (slug)")
        parser.add_argument(
            "--batch-size", type=int, default=stats.SYNC_BATCH, help="orders per transaction"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        merchants = Merchant.objects.order_by("pk")
        if options["merchant"]:
            merchants = merchants.filter(slug=options["merchant"])
        bars: dict[int, tqdm[Any]] = {}

        def progress(merchant: Merchant, done: int, total: int) -> None:
            bar = bars.get(merchant.pk)
            if bar is None:
                bar = bars[merchant.pk] = tqdm(
                    total=total,
                    unit="order",
                    desc=merchant.slug,
                    disable=options["no_progress"],
                    file=self.stderr._out,
                )
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        changed = stats.purchase_stats_refresh(
            merchants=merchants, batch_size=options["batch_size"], progress=progress
        )
        if changed and connection.vendor == "postgresql" and not connection.in_atomic_block:
            # Fresh planner statistics, and a visibility map for index-only partner lookups.
            with connection.cursor() as cursor:
                for model in (CoPurchase, ProductSales, PurchaseCounted):
                    cursor.execute(
                        f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}"
                    )
        self.stdout.write(f"{changed} orders synced")
