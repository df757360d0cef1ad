"""manage.py train_estimator: backtest the tiers, train the best, activate it if it is better."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from estimates.services import estimator_train
from estimates.training import TIER_NAMES
from postpurchase.errors import DomainError
from postpurchase.models import Merchant


class Command(BaseCommand):
    help = "Train delivery-date estimators for one merchant (or all) and activate better ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", help="merchant slug (default: every active merchant)")
        parser.add_argument(
            "--stage",
            choices=["purchase", "handoff", "both"],
            default="both",
            help="predict at purchase, after carrier hand-off, or both",
        )
        parser.add_argument(
            "--tiers", default=",".join(TIER_NAMES), help="comma-separated tiers to backtest"
        )
        parser.add_argument("--as-of", help="train on what was known before this ISO time")

    def handle(self, *args: Any, **options: Any) -> None:
        merchants = Merchant.objects.filter(is_active=True)
        if options["merchant"]:
            merchants = merchants.filter(slug=options["merchant"])
            if not merchants.exists():
                raise CommandError(f"No active merchant {options['merchant']!r}.")
        as_of = None
        if options["as_of"]:
            as_of = parse_datetime(options["as_of"])
            if as_of is None or as_of.tzinfo is None:
                raise CommandError("--as-of needs an ISO time with a zone, e.g. 2026-01-01T00:00Z")
        tiers = [t.strip() for t in options["tiers"].split(",") if t.strip()]
        unknown = [t for t in tiers if t not in TIER_NAMES]
        if unknown:
            raise CommandError(f"Unknown tiers: {', '.join(unknown)}; use {', '.join(TIER_NAMES)}.")
        stages = ["purchase", "handoff"] if options["stage"] == "both" else [options["stage"]]
        jobs = [(m, s) for m in merchants for s in stages]
        with tqdm(jobs, desc="training", unit="model", file=self.stderr) as bar:
            for merchant, stage in bar:
                bar.set_postfix_str(f"{merchant.slug}/{stage}")
                label = f"{merchant.slug}/{stage}"

                def show(text: str, label: str = label) -> None:
                    bar.set_postfix_str(f"{label}: {text}")

                try:
                    outcome = estimator_train(
                        merchant=merchant, stage=stage, as_of=as_of, tiers=tiers, progress=show
                    )
                except DomainError as exc:
                    self.stdout.write(f"{merchant.slug} {stage}: not trained - {exc.message}")
                    continue
                metrics = outcome.version.metrics
                self.stdout.write(
                    f"{merchant.slug} {stage}: {outcome.version.version} "
                    f"MAE {metrics.get('mae_p50_days', float('nan')):.2f} d, "
                    f"on time {metrics.get('promise_on_time', float('nan')):.1%} - "
                    f"{outcome.reason}"
                )
