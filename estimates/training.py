"""Training and backtesting the estimator tiers by replaying time.

A model trained "as of" a moment sees only rows whose outcome was known before it; a backtest
prediction for a shipment uses the latest model trained before its prediction moment and features
from the snapshot of that day (`estimates.features`), so neither its own outcome nor any later
order can leak in. In-flight orders enter training through inverse-probability-of-censoring
weights: a delivery that took T days is weighted by 1 / share of orders old enough to show it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from estimates import calibration as calibration_mod
from estimates.calibration import Calibration, DayWindow
from estimates.features import (
    FeatureSchema,
    HistoryIndex,
    Stage,
    build_features,
    schema_for,
    targets,
)
from estimates.tiers import Tier
from estimates.tiers.gbm import GradientBoostingTier
from estimates.tiers.lane_stats import LaneStatsTier
from estimates.tiers.rules import RulesTier, TransitRuleSpec

TIER_NAMES = ("rules", "lane_stats", "gbm")
TRAINING_HISTORY_DAYS = 365
TRAINING_HALF_LIFE_DAYS = 120.0
# Conformal calibration on the orders started in the last CALIBRATION_DAYS (censoring-aware: many
# are still in flight), the most recent weighted most, each predicted by a copy of the final model
# trained without the block of time it falls in (CALIBRATION_BLOCKS consecutive thirds).
CALIBRATION_DAYS = 45
CALIBRATION_BLOCKS = 3
CALIBRATION_HALF_LIFE_DAYS = 30.0
MAX_IPCW_WEIGHT = 10.0


def make_tier(name: str, *, stage: Stage, rules: Sequence[TransitRuleSpec] = ()) -> Tier:
    if name == "rules":
        return RulesTier(stage=stage, rules=rules)
    if name == "lane_stats":
        return LaneStatsTier(stage=stage)
    if name == "gbm":
        return GradientBoostingTier(stage=stage)
    raise ValueError(f"unknown estimator tier {name!r}; choose one of {', '.join(TIER_NAMES)}")


@dataclass
class TrainedEstimator:
    """A fitted tier with its schema and calibration, ready to predict."""

    tier: Tier
    stage: Stage
    schema: FeatureSchema
    calibration: Calibration
    as_of: pd.Timestamp
    training_start: pd.Timestamp | None
    n_train: int
    metrics: dict[str, float] = field(default_factory=dict)

    def predict_days(self, features: pd.DataFrame, queries: pd.DataFrame) -> DayWindow:
        """Calibrated whole days from the prediction day."""
        raw = self.tier.predict(features, queries)
        raw = np.where(np.isnan(raw), np.nanmedian(raw, axis=0, keepdims=True), raw)
        raw = np.nan_to_num(raw, nan=7.0)
        return calibration_mod.apply(self.calibration, raw)


def start_moment(frame: pd.DataFrame, stage: Stage) -> pd.Series:
    """When the prediction is made: the purchase, or the carrier hand-off."""
    return frame["purchased_at"] if stage == "purchase" else frame["handed_over_at"]


def _training_rows(
    frame: pd.DataFrame, stage: Stage, as_of: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Rows known delivered before `as_of`, and their IPCW x recency weights."""
    start = start_moment(frame, stage)
    started = (start < as_of) & (start >= as_of - timedelta(days=TRAINING_HISTORY_DAYS))
    known = started & (frame["delivered_at"] < as_of)
    rows = np.flatnonzero(known.to_numpy())
    if len(rows) == 0:
        return rows, np.zeros(0)
    start_day = start.dt.floor("D")
    age = ((as_of.floor("D") - start_day[started]).dt.days).to_numpy()
    y = targets(frame.iloc[rows], stage=stage)
    # Share of started orders old enough that a T-day delivery would already be visible.
    ages_sorted = np.sort(age)
    visible = 1.0 - np.searchsorted(ages_sorted, y, side="right") / len(ages_sorted)
    ipcw = np.minimum(1.0 / np.maximum(visible, 1e-9), MAX_IPCW_WEIGHT)
    row_age = (as_of.floor("D") - start_day.iloc[rows]).dt.days.to_numpy()
    recency = np.power(0.5, row_age / TRAINING_HALF_LIFE_DAYS)
    return rows, ipcw * recency


def _fit(
    name: str,
    stage: Stage,
    frame: pd.DataFrame,
    features: pd.DataFrame,
    schema: FeatureSchema,
    as_of: pd.Timestamp,
    rules: Sequence[TransitRuleSpec],
    exclude: np.ndarray | None = None,
) -> tuple[Tier, int, pd.Timestamp | None]:
    rows, weight = _training_rows(frame, stage, as_of)
    if exclude is not None and len(rows):
        keep = ~np.isin(rows, exclude)
        rows, weight = rows[keep], weight[keep]
    tier = make_tier(name, stage=stage, rules=rules)
    if name == "rules" and rules:
        return tier, len(rows), None
    if len(rows) == 0:
        raise ValueError(f"no delivered shipments known before {as_of:%Y-%m-%d} to train on")
    y = targets(frame.iloc[rows], stage=stage)
    tier.fit(features.iloc[rows], frame.iloc[rows], y, weight, schema)
    first = start_moment(frame, stage).iloc[rows].min()
    return tier, len(rows), first


def _calibration_rows(frame: pd.DataFrame, stage: Stage, as_of: pd.Timestamp) -> np.ndarray:
    start = start_moment(frame, stage)
    low = as_of - timedelta(days=CALIBRATION_DAYS)
    return np.flatnonzero(((start >= low) & (start < as_of)).to_numpy())


def _held_out_raw(
    tier_name: str,
    stage: Stage,
    frame: pd.DataFrame,
    features: pd.DataFrame,
    schema: FeatureSchema,
    as_of: pd.Timestamp,
    rules: Sequence[TransitRuleSpec],
    cal_rows: np.ndarray,
) -> np.ndarray | None:
    """Raw quantiles of the final model's own kind for the calibration rows, each from a copy
    trained as of the same moment on everything known then except the stretch of time (one of
    `CALIBRATION_BLOCKS`) the row belongs to: residuals of (almost) the final model, held out
    the way the orders it will predict are. None when a copy cannot be trained."""
    start = start_moment(frame, stage).iloc[cal_rows].to_numpy()
    rank = np.argsort(np.argsort(start, kind="stable"), kind="stable")
    block = (rank * CALIBRATION_BLOCKS) // len(cal_rows)
    raw = np.full((len(cal_rows), 3), np.nan)
    for k in range(CALIBRATION_BLOCKS):
        held = cal_rows[block == k]
        if len(held) == 0:
            continue
        try:
            tier, _, _ = _fit(tier_name, stage, frame, features, schema, as_of, rules, exclude=held)
        except ValueError:  # nothing else known to train on
            return None
        raw[block == k] = tier.predict(features.iloc[held], frame.iloc[held])
    return raw


def _known_targets(
    frame: pd.DataFrame, stage: Stage, as_of: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Days to delivery where it was known by `as_of` (NaN for the still undelivered), and the
    whole days each row had been under way at `as_of` (its censoring age)."""
    y = targets(frame, stage=stage)
    delivered_in_time = (frame["delivered_at"] < as_of).to_numpy()
    start_day = start_moment(frame, stage).dt.floor("D")
    age = (as_of.floor("D") - start_day).dt.days.to_numpy(dtype=float)
    return np.where(delivered_in_time, y, np.nan), age


def train(
    index: HistoryIndex,
    *,
    tier_name: str,
    stage: Stage,
    as_of: pd.Timestamp,
    features: pd.DataFrame | None = None,
    schema: FeatureSchema | None = None,
    rules: Sequence[TransitRuleSpec] = (),
    on_time_target: float = 0.9,
    coverage_target: float = 0.8,
) -> TrainedEstimator:
    """Train one tier on what was known before `as_of`, calibrated on a recent held-out stretch.

    `features` may hold precomputed feature rows for the whole history (each row as of its own
    prediction day, so valid for any `as_of`); otherwise they are computed here.
    """
    frame = index.history
    known_before = frame[start_moment(frame, stage) < as_of]
    schema = schema or schema_for(known_before, stage=stage)
    if features is None:
        features = _features_for(index, frame, stage, schema)
    tier, n_train, first = _fit(tier_name, stage, frame, features, schema, as_of, rules)
    cal_rows = _calibration_rows(frame, stage, as_of)
    calibration = Calibration(on_time_target=on_time_target, coverage_target=coverage_target)
    if len(cal_rows) >= calibration_mod.MIN_CALIBRATION_ROWS:
        raw = _held_out_raw(tier_name, stage, frame, features, schema, as_of, rules, cal_rows)
        if raw is not None:
            usable = ~np.isnan(raw).any(axis=1)
            y, age = _known_targets(frame.iloc[cal_rows], stage, as_of)
            recency = np.power(0.5, age / CALIBRATION_HALF_LIFE_DAYS)
            calibration = calibration_mod.fit(
                raw[usable],
                y[usable],
                age=age[usable],
                weight=recency[usable],
                on_time_target=on_time_target,
                coverage_target=coverage_target,
            )
    return TrainedEstimator(
        tier=tier,
        stage=stage,
        schema=schema,
        calibration=calibration,
        as_of=as_of,
        training_start=first,
        n_train=n_train,
    )


def _features_for(
    index: HistoryIndex, frame: pd.DataFrame, stage: Stage, schema: FeatureSchema
) -> pd.DataFrame:
    """Feature rows for every history row that has a prediction moment (NaN rows otherwise)."""
    start = start_moment(frame, stage)
    has = start.notna().to_numpy()
    out = pd.DataFrame(np.nan, index=frame.index, columns=list(schema.names))
    if has.any():
        out.loc[has] = build_features(index, frame[has], stage=stage, schema=schema).to_numpy()
    return out


@dataclass
class BacktestResult:
    """Per-shipment predictions of a backtest (dates), with the model each came from."""

    predictions: pd.DataFrame
    models: list[TrainedEstimator]


def backtest(
    index: HistoryIndex,
    *,
    tier_name: str,
    stage: Stage,
    train_until: pd.Timestamp,
    test_from: pd.Timestamp,
    test_until: pd.Timestamp,
    retrain_days: int = 30,
    rules: Sequence[TransitRuleSpec] = (),
    on_time_target: float = 0.9,
    progress: Callable[[str], None] | None = None,
    include_in_flight: bool = False,
) -> BacktestResult:
    """Replay time: train at `train_until`, retrain every `retrain_days`, predict every delivered
    order purchased in [test_from, test_until] with the model current at its prediction moment.
    With `include_in_flight`, orders not yet delivered are predicted too (their `actual` is NaT),
    for `date_metrics(..., censored_at=...)` to count those whose promise has already passed."""
    if test_from < train_until:
        raise ValueError("the test period must start on or after the training cut-off")
    frame = index.history
    purchased = frame["purchased_at"]
    in_test = (
        (purchased >= test_from)
        & (purchased < test_until + timedelta(days=1))
        & (frame["delivered_at"].notna() | include_in_flight)
        & start_moment(frame, stage).notna()
    )
    test_rows = np.flatnonzero(in_test.to_numpy())
    schema = schema_for(frame[start_moment(frame, stage) < train_until], stage=stage)
    features = _features_for(index, frame, stage, schema)
    moments = start_moment(frame, stage).iloc[test_rows]
    last_moment = moments.max() if len(test_rows) else train_until
    step = timedelta(days=retrain_days) if retrain_days > 0 else None
    points = [train_until]
    while step is not None and points[-1] + step <= last_moment:
        points.append(points[-1] + step)
    models: list[TrainedEstimator] = []
    parts: list[pd.DataFrame] = []
    for k, point in enumerate(points):
        if progress:
            progress(f"{tier_name}/{stage}: training as of {point:%Y-%m-%d}")
        model = train(
            index,
            tier_name=tier_name,
            stage=stage,
            as_of=point,
            features=features,
            schema=schema,
            rules=rules,
            on_time_target=on_time_target,
        )
        models.append(model)
        upper = points[k + 1] if k + 1 < len(points) else pd.Timestamp.max
        lower = point if k else pd.Timestamp.min
        chosen = test_rows[((moments >= lower) & (moments < upper)).to_numpy()]
        if len(chosen) == 0:
            continue
        days = model.predict_days(features.iloc[chosen], frame.iloc[chosen])
        start_day = start_moment(frame, stage).iloc[chosen].dt.floor("D").to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "order_id": frame["order_id"].iloc[chosen].to_numpy(),
                    "row": chosen,
                    "p10": start_day + pd.to_timedelta(days.p10, unit="D"),
                    "p50": start_day + pd.to_timedelta(days.p50, unit="D"),
                    "p90": start_day + pd.to_timedelta(days.p90, unit="D"),
                    "promise": start_day + pd.to_timedelta(days.promise, unit="D"),
                    "actual": frame["delivered_at"].iloc[chosen].dt.floor("D").to_numpy(),
                    "model_as_of": point,
                }
            )
        )
    columns = ["order_id", "row", "p10", "p50", "p90", "promise", "actual", "model_as_of"]
    predictions = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return BacktestResult(
        predictions=predictions.sort_values("row", ignore_index=True), models=models
    )


def date_metrics(
    predictions: pd.DataFrame, *, censored_at: pd.Timestamp | None = None
) -> dict[str, float]:
    """The README's figures for a table of p10/p50/p90/promise/actual dates.

    With `censored_at` (the moment the replay stands at), rows whose `actual` is NaT are orders
    still in flight then: one whose promise (or P90) day had already passed counts as late (or
    outside its window), since we know it missed; one whose date is still ahead is left out of
    that figure. Without this, a recent stretch would be judged on its fast orders only.
    """
    if predictions.empty:
        return {"n": 0}
    actual = predictions["actual"]
    delivered = actual.notna().to_numpy()
    if not delivered.any():
        return {"n": 0}
    today = None if censored_at is None else pd.Timestamp(censored_at).floor("D")

    def days(a: pd.Series, b: pd.Series) -> np.ndarray:
        return (a - b).dt.days.to_numpy(dtype=float)

    def passed(bound: pd.Series) -> np.ndarray:
        """In flight and `bound` day already over: known to have missed it."""
        if today is None:
            return np.zeros(len(bound), dtype=bool)
        return ~delivered & (bound < today).to_numpy()

    on_time = (actual <= predictions["promise"]).to_numpy() & delivered
    missed = passed(predictions["promise"])
    judged = delivered | missed
    padding = days(predictions["promise"], actual)[on_time]
    covered = ((actual >= predictions["p10"]) & (actual <= predictions["p90"])).to_numpy()
    outside = passed(predictions["p90"])
    central = days(predictions["p50"], actual)[delivered]
    return {
        "n": int(delivered.sum()),
        "n_in_flight_late": int(missed.sum()),
        "mae_p50_days": float(np.abs(central).mean()),
        "bias_p50_days": float(central.mean()),
        "promise_on_time": float(on_time[judged].mean()),
        "promise_padding_days": float(padding.mean()) if len(padding) else 0.0,
        "p10_p90_coverage": float(covered[delivered | outside].mean()),
        "p10_p90_width_days": float(days(predictions["p90"], predictions["p10"])[delivered].mean()),
    }


# Each point of on-time rate under the target costs a day: near the P90 tail a day of promise
# buys only a few points, so a tier cannot win by trading broken promises for less padding...
SHORTFALL_DAYS_PER_POINT = 1.0
COVERAGE_TOLERANCE = 0.05  # ...and each point of P10-P90 coverage beyond 80 % +- 5, a fifth of one


def tier_score(
    metrics: dict[str, float], *, on_time_target: float = 0.9, coverage_target: float = 0.8
) -> float:
    """Lower is better, in days, after the product's goal: a promise that keeps the on-time target
    with the least padding (a padded promise loses the sale, a broken one the customer), a close
    central date, and an honest window. So: padding + central error, plus a day per point of
    on-time rate under the target and a fifth of a day per point of coverage outside the
    tolerance. Used to pick the best tier and to decide whether a version beats the active one."""
    shortfall = max(0.0, on_time_target - metrics.get("promise_on_time", 0.0))
    coverage = metrics.get("p10_p90_coverage", coverage_target)
    coverage_miss = max(0.0, abs(coverage - coverage_target) - COVERAGE_TOLERANCE)
    return (
        metrics.get("promise_padding_days", 0.0)
        + metrics.get("mae_p50_days", 99.0)
        + 100.0 * SHORTFALL_DAYS_PER_POINT * shortfall
        + 20.0 * coverage_miss
    )


SELECTION_DAYS = 60  # the tiers are compared on this stretch before the training cut-off...
SELECTION_SETTLE_DAYS = 15  # ...ending this long before it, so most of its orders have arrived


def known_at(history: pd.DataFrame, moment: pd.Timestamp) -> pd.DataFrame:
    """The history as a live system saw it at `moment`: later orders absent, later scans unknown."""
    known = history[history["purchased_at"] < moment].copy()
    known.loc[known["delivered_at"] >= moment, "delivered_at"] = pd.NaT
    known.loc[known["handed_over_at"] >= moment, "handed_over_at"] = pd.NaT
    return known.reset_index(drop=True)


def select_tier(
    history: pd.DataFrame,
    *,
    stage: Stage,
    as_of: pd.Timestamp,
    tiers: Sequence[str] = TIER_NAMES,
    rules: Sequence[TransitRuleSpec] = (),
    on_time_target: float = 0.9,
    progress: Callable[[str], None] | None = None,
) -> tuple[str, dict[str, dict[str, float]]]:
    """Choose the tier with the best backtest on the recent past, using only what was known at
    `as_of`. Returns the tier and every tier's figures; raises ValueError when none could be
    measured."""
    index = HistoryIndex(known_at(history, as_of))
    test_until = as_of - timedelta(days=SELECTION_SETTLE_DAYS)
    test_from = test_until - timedelta(days=SELECTION_DAYS)
    figures: dict[str, dict[str, float]] = {}
    for tier in tiers:
        if progress:
            progress(f"{tier}/{stage}: selection backtest")
        try:
            run = backtest(
                index,
                tier_name=tier,
                stage=stage,
                train_until=test_from,
                test_from=test_from,
                test_until=test_until,
                retrain_days=0,
                rules=rules,
                on_time_target=on_time_target,
                include_in_flight=True,
            )
        except ValueError:  # e.g. nothing delivered before the selection stretch
            figures[tier] = {"n": 0}
            continue
        figures[tier] = date_metrics(run.predictions, censored_at=as_of)
    scored = [t for t in tiers if figures[t].get("n", 0)]
    if not scored:
        raise ValueError(
            f"no delivered shipment between {test_from:%Y-%m-%d} and {test_until:%Y-%m-%d} "
            "to compare the tiers on"
        )
    best = min(scored, key=lambda t: tier_score(figures[t], on_time_target=on_time_target))
    return best, figures
