"""`manage.py create_api_key MERCHANT_SLUG NAME --scopes orders:read orders:write ...`

Prints the new key once; only its hash is stored, so it cannot be shown again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from postpurchase.api_keys import api_key_create
from postpurchase.errors import DomainError
from postpurchase.models import ApiScope, Merchant


class Command(BaseCommand):
    help = "Issue an API key for a merchant and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("merchant_slug", help="The merchant's slug, e.g. aurora.")
        parser.add_argument("name", help="What the key is for, e.g. 'Shopify sync'.")
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=None,
            metavar="SCOPE",
            help=f"Scopes to grant (default: all): {', '.join(ApiScope.values)}.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = Merchant.objects.filter(slug=options["merchant_slug"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug '{options['merchant_slug']}'.")
        scopes = options["scopes"] or list(ApiScope.values)
        try:
            issued = api_key_create(merchant=merchant, name=options["name"], scopes=scopes)
        except DomainError as exc:
            raise CommandError(f"{exc.message} (known: {', '.join(ApiScope.values)})") from exc
        self.stdout.write(f"API key for {merchant.slug} ({', '.join(scopes)}):")
        self.stdout.write(issued.secret)
        self.stderr.write("Store it now: it is not shown again. Revoke it in the console.")
