"""Delivery-date estimates on real Olist orders, replaying time, beside Olist's own promise.

    .venv/bin/python benchmarks/edd_olist.py --data ../shared/data/olist \
        --train-until 2017-07-01 --test-from 2017-07-01 --test-until 2017-09-30 [--json]

Uses the product's own code (estimates.features, estimates.tiers, estimates.training): only the
loading of Olist's CSV files into the shipment history frame lives here. Every figure is computed
for delivered orders purchased in the test period; each prediction uses only what was known
before its moment (purchase, or carrier hand-off for the "after hand-off" figures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # a shared 2-core machine: keep to one core

import numpy as np
import pandas as pd
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimates.features import HistoryIndex, normalise_history
from estimates.training import TIER_NAMES, backtest, date_metrics, select_tier

EXCLUDED_STATUSES = {"canceled", "unavailable"}


def load_olist(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Olist's six files as (shipment history frame, Olist's own promise per order)."""
    orders = pd.read_csv(folder / "orders.csv", dtype=str)
    items = pd.read_csv(
        folder / "order_items.csv", dtype={"order_id": str, "product_id": str, "seller_id": str}
    )
    customers = pd.read_csv(folder / "customers.csv", dtype=str)
    products = pd.read_csv(folder / "products.csv", dtype={"product_id": str})
    sellers = pd.read_csv(folder / "sellers.csv", dtype=str)
    products["volume_cm3"] = (
        products["product_length_cm"] * products["product_height_cm"] * products["product_width_cm"]
    )
    items = items.merge(
        products[["product_id", "product_category_name", "product_weight_g", "volume_cm3"]],
        on="product_id",
        how="left",
    )
    per_order = (
        items.sort_values(["order_id", "order_item_id"])
        .groupby("order_id")
        .agg(
            seller_id=("seller_id", "first"),
            category=("product_category_name", "first"),
            n_items=("order_item_id", "count"),
            price=("price", "sum"),
            freight_value=("freight_value", "sum"),
            weight_g=("product_weight_g", "sum"),
            volume_cm3=("volume_cm3", "sum"),
        )
        .reset_index()
    )
    frame = (
        orders.merge(customers, on="customer_id", how="left")
        .merge(per_order, on="order_id", how="left")
        .merge(sellers, on="seller_id", how="left")
    )
    # A live system learns of a cancellation when it happens; Olist gives no cancellation time,
    # so cancelled and unavailable orders are left out of the history rather than kept in flight.
    frame = frame[~frame["order_status"].isin(EXCLUDED_STATUSES)]
    history = pd.DataFrame(
        {
            "order_id": frame["order_id"],
            "purchased_at": frame["order_purchase_timestamp"],
            "handed_over_at": frame["order_delivered_carrier_date"],
            "delivered_at": frame["order_delivered_customer_date"],
            "origin_country": "BR",
            "origin_region": frame["seller_state"],
            "origin_postcode": frame["seller_zip_code_prefix"].fillna("").str.zfill(5),
            "destination_country": "BR",
            "destination_region": frame["customer_state"],
            "destination_postcode": frame["customer_zip_code_prefix"].fillna("").str.zfill(5),
            "carrier_service": "olist",
            "seller_id": frame["seller_id"],
            "category": frame["category"],
            "weight_g": frame["weight_g"],
            "volume_cm3": frame["volume_cm3"],
            "n_items": frame["n_items"],
            "price": frame["price"],
            "freight_value": frame["freight_value"],
        }
    )
    history = normalise_history(history)
    # Olist records a few hand-offs after the delivery: keep the delivery, drop the hand-off.
    late = history["handed_over_at"] > history["delivered_at"]
    history.loc[late, "handed_over_at"] = pd.NaT
    promise = pd.DataFrame(
        {
            "order_id": frame["order_id"].to_numpy(),
            "olist_promise": pd.to_datetime(frame["order_estimated_delivery_date"]).dt.floor("D"),
        }
    )
    return history, promise


def olist_metrics(predictions: pd.DataFrame, promise: pd.DataFrame) -> dict[str, float]:
    merged = predictions[["order_id", "actual"]].merge(promise, on="order_id", how="left")
    delta = (merged["olist_promise"] - merged["actual"]).dt.days.to_numpy(dtype=float)
    on_time = delta >= 0
    return {
        "olist_mae_days": float(np.abs(delta).mean()),
        "olist_on_time": float(on_time.mean()),
        "olist_padding_days": float(delta[on_time].mean()) if on_time.any() else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with Olist's CSV files")
    parser.add_argument("--train-until", required=True, help="training cut-off (YYYY-MM-DD)")
    parser.add_argument("--test-from", required=True, help="first purchase day tested")
    parser.add_argument("--test-until", required=True, help="last purchase day tested")
    parser.add_argument(
        "--retrain-days",
        type=int,
        default=30,
        help="retrain every N days of the test period, as the periodic task does "
        "(0 = train once at the cut-off)",
    )
    parser.add_argument(
        "--tiers",
        default=",".join(TIER_NAMES),
        help="comma-separated tiers to measure; the headline is the one the product would choose",
    )
    parser.add_argument("--on-time-target", type=float, default=0.9)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args(argv)
    train_until = pd.Timestamp(args.train_until)
    test_from = pd.Timestamp(args.test_from)
    test_until = pd.Timestamp(args.test_until)
    tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]

    started = time.monotonic()
    history, promise = load_olist(args.data)
    index = HistoryIndex(history)
    results: dict[str, dict[str, dict[str, float]]] = {"purchase": {}, "handoff": {}}
    chosen: dict[str, str] = {}
    selection: dict[str, dict[str, dict[str, float]]] = {}
    stages = ("purchase", "handoff")
    total = len(stages) * len(tiers) * 2
    with tqdm(total=total, desc="backtests", unit="run", file=sys.stderr) as bar:
        for stage in stages:
            # The product's own choice (estimates.training.select_tier): the tier with the best
            # backtest on the stretch before the cut-off, judged on what was known at it.
            chosen[stage], selection[stage] = select_tier(
                history,
                stage=stage,
                as_of=train_until,
                tiers=tiers,
                on_time_target=args.on_time_target,
                progress=bar.set_postfix_str,
            )
            bar.update(len(tiers))
            for tier in tiers:
                run = backtest(
                    index,
                    tier_name=tier,
                    stage=stage,
                    train_until=train_until,
                    test_from=test_from,
                    test_until=test_until,
                    retrain_days=args.retrain_days,
                    on_time_target=args.on_time_target,
                    progress=bar.set_postfix_str,
                )
                metrics = date_metrics(run.predictions)
                if stage == "purchase":
                    metrics |= olist_metrics(run.predictions, promise)
                results[stage][tier] = metrics
                bar.update(1)
    headline = results["purchase"][chosen["purchase"]]
    after_handoff = results["handoff"][chosen["handoff"]]

    print(
        f"Olist delivery estimates: train until {train_until:%Y-%m-%d}, "
        f"test {test_from:%Y-%m-%d} .. {test_until:%Y-%m-%d}, "
        f"retrain every {args.retrain_days} days"
    )
    header = (
        f"{'estimator':<22}{'n':>6}{'MAE P50':>9}{'on-time':>9}{'padding':>9}"
        f"{'P10-P90 cov':>13}{'width':>7}"
    )
    print(header)

    def row(label: str, m: dict[str, float]) -> None:
        print(
            f"{label:<22}{m['n']:>6}{m['mae_p50_days']:>9.2f}{m['promise_on_time']:>9.1%}"
            f"{m['promise_padding_days']:>9.2f}{m['p10_p90_coverage']:>13.1%}"
            f"{m['p10_p90_width_days']:>7.2f}"
        )

    for stage, label in (("purchase", "at purchase"), ("handoff", "after hand-off")):
        print(f"-- {label} (chosen by backtest before the cut-off: {chosen[stage]})")
        for tier, m in results[stage].items():
            row(("* " if tier == chosen[stage] else "  ") + tier, m)
    print(
        f"{'Olist promise':<22}{headline['n']:>6}{headline['olist_mae_days']:>9.2f}"
        f"{headline['olist_on_time']:>9.1%}{headline['olist_padding_days']:>9.2f}"
    )
    print(f"elapsed {time.monotonic() - started:.0f} s")
    if args.json:
        summary = {
            "tier": chosen["purchase"],
            "tier_after_handoff": chosen["handoff"],
            "mae_p50_days": round(headline["mae_p50_days"], 3),
            "bias_p50_days": round(headline["bias_p50_days"], 3),
            "promise_on_time": round(headline["promise_on_time"], 4),
            "promise_padding_days": round(headline["promise_padding_days"], 3),
            "p10_p90_coverage": round(headline["p10_p90_coverage"], 4),
            "p10_p90_width_days": round(headline["p10_p90_width_days"], 3),
            "mae_after_handoff_days": round(after_handoff["mae_p50_days"], 3),
            "after_handoff_on_time": round(after_handoff["promise_on_time"], 4),
            "after_handoff_coverage": round(after_handoff["p10_p90_coverage"], 4),
            "olist_mae_days": round(headline["olist_mae_days"], 3),
            "olist_on_time": round(headline["olist_on_time"], 4),
            "olist_padding_days": round(headline["olist_padding_days"], 3),
            "n_test_orders": headline["n"],
            "n_after_handoff_orders": after_handoff["n"],
            "tiers": {
                stage: {t: {k: round(v, 4) for k, v in m.items()} for t, m in by_tier.items()}
                for stage, by_tier in results.items()
            },
            "selection": selection,
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
