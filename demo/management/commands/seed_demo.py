"""`manage.py seed_demo`: a demo store to click through, safe to run again.

Two storefronts of one brand, as two merchants (each tenant has one currency, one order-number
sequence and one default language, as a real store split by market does):

* "Northwind Supply" (`northwind`): English, USD, America/New_York, ships in the US;
* "北風商店" (`northwind-jp`): Japanese, JPY, Asia/Tokyo, ships in Japan.

Both offer English and Japanese. One staff login (`demo`) owns both and is a superuser, so it opens
the merchant console and the ops site. Its password is generated on the first run and kept in
`var/demo-credentials.json` (git-ignored), so every run prints the same one. An API key for the
US store is printed when it is issued; reruns show only its prefix (`--new-api-key` issues another).
The data is in `demo.storefronts`, the steps in `demo.seeding`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from demo.seeding import (
    CREDENTIALS_FILE,
    SEED_STEPS,
    SeedContext,
    seed_api_key,
    seed_merchants,
    seed_staff,
)


class Command(BaseCommand):
    help = "Create (or complete) the demo storefronts, login, API key, orders and shipments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default="", help="Set the demo login's password.")
        parser.add_argument(
            "--new-api-key", action="store_true", help="Issue another demo API key and print it."
        )
        parser.add_argument("--seed", type=int, default=1001, help="Random seed of the data.")
        parser.add_argument(
            "--credentials-file",
            type=Path,
            default=None,
            help=f"Where the demo password is kept (default var/{CREDENTIALS_FILE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = SeedContext(
            stdout=self.stdout, rng=random.Random(options["seed"]), now=timezone.now()
        )
        self.stdout.write("Seeding the demo storefronts…")
        seed_merchants(ctx)
        seed_staff(ctx, password=options["password"], path=options["credentials_file"])
        seed_api_key(ctx, new=options["new_api_key"])
        for _name, step in SEED_STEPS:
            step(ctx)
        self._report(ctx)

    def _report(self, ctx: SeedContext) -> None:
        created = ", ".join(f"{n} {what}" for what, n in ctx.created.items()) or "nothing new"
        host = os.environ.get("DEMO_URL", "http://127.0.0.1:8000").rstrip("/")
        lines = [
            "",
            self.style.SUCCESS(f"Demo ready ({created})."),
            f"  Storefronts:      {', '.join(m.name for m in ctx.merchants.values())}",
            f"  Merchant console: {host}/{settings.ADMIN_URL}",
            f"  Ops site:         {host}/{settings.OPS_ADMIN_URL}",
            f"  API docs:         {host}/api/docs/",
            f"  Login:            {ctx.username} / {ctx.password}",
            f"  API key:          {ctx.api_key_line}",
            f"  (password kept in {ctx.credentials_path})",
            "",
        ]
        self.stdout.write("\n".join(lines))
