"""manage.py import_tracking_events FILE — backfill carrier scans from CSV or JSON Lines."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from tracking.bulk_import import COLUMNS, RowError, import_tracking_events, read_rows


class Command(BaseCommand):
    help = (
        "Import tracking events from a CSV (header row) or JSON Lines file. Columns: "
        + ", ".join(COLUMNS)
        + ". See docs/tracking.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format", choices=["csv", "jsonl"], help="Default: from the file extension."
        )
        parser.add_argument("--merchant", default="", help="Merchant slug for rows without one.")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument(
            "--publish",
            action="store_true",
            help="Publish status changes (notifications!); off for historical backfills.",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        fmt = options["format"] or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
        size = os.path.getsize(path)
        with (
            path.open("rb") as raw,
            io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as stream,
            tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc="import",
                disable=options["no_progress"],
                file=self.stderr._out,
            ) as bar,
        ):
            last = 0

            def advance(_: int) -> None:
                nonlocal last
                position = raw.tell()
                if position - last > 65536:
                    bar.update(position - last)
                    last = position

            try:
                summary = import_tracking_events(
                    rows=read_rows(stream, fmt),
                    default_merchant=options["merchant"],
                    batch_size=options["batch_size"] or settings.TRACKING_IMPORT_BATCH,
                    publish=options["publish"],
                    progress=advance,
                )
            except RowError as exc:
                raise CommandError(str(exc)) from exc
            bar.update(size - last)
        out = self.stdout
        out.write(
            f"rows {summary.rows}: accepted {summary.accepted}, duplicate {summary.duplicate}, "
            f"rejected {summary.rejected}; shipments touched {summary.shipments_touched}, "
            f"status changes {summary.status_changes}, "
            f"matched across sources {summary.matched}"
        )
        for line, reason in sorted(summary.rejections):
            out.write(f"  line {line}: {reason}")
        if summary.rejected > len(summary.rejections):
            out.write(f"  … and {summary.rejected - len(summary.rejections)} more rejected")
