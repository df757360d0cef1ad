"""Turning a shipment (or a cart) into a window, a central date and a promise.

The active estimator version of the merchant predicts when there is one; otherwise the merchant's
transit rules (and, past those, a conservative built-in rule) do. Warehouse cut-off and handling
days decide the ship date before purchase.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from estimates.business_days import calendar_for, dispatch_for_order
from estimates.calibration import Calibration
from estimates.features import (
    WINDOW_DAYS,
    FeatureSchema,
    HistoryIndex,
    Stage,
    build_features,
    normalise_history,
)
from estimates.models import EstimatorVersion, Warehouse
from estimates.registry import ArtifactRefused, StoredEstimator, artifact_loads
from estimates.selectors import (
    carrier_closed_dates,
    estimator_active,
    history_since,
    shipment_history_frame,
    transit_rule_specs,
)
from estimates.tiers.rules import TransitRuleSpec, best_rule
from estimates.training import TrainedEstimator
from postpurchase.models import Merchant

logger = logging.getLogger(__name__)

# When a merchant has no rule for a lane and no trained model: a cautious national default.
DEFAULT_RULE = TransitRuleSpec(min_days=2, typical_days=4, max_days=7)
RULES_VERSION = "rules"
_loaded: dict[tuple[int, str], TrainedEstimator] = {}


@dataclass(frozen=True)
class Estimate:
    """A delivery window (P10-P90), central date (P50) and promise, with where it came from."""

    window_start: date
    window_end: date
    central: date
    promise: date
    model_version: str
    confidence: float | None
    stage: Stage


def load_version(version: EstimatorVersion) -> TrainedEstimator:
    """The version's estimator, loaded once per process and verified against its schema."""
    key = (version.pk, version.artifact_sha256)
    if key not in _loaded:
        expected = StoredEstimator(
            stage=version.stage,  # type: ignore[arg-type]
            schema=FeatureSchema.from_json(version.feature_schema),
            calibration=Calibration.from_json(version.calibration),
            as_of=pd.Timestamp(version.training_end),
        )
        _loaded[key] = artifact_loads(bytes(version.artifact), expected=expected)
    return _loaded[key]


def _confidence(calibration: Calibration) -> float | None:
    measured = [share for level, share in calibration.reliability if level == 0.9]
    return round(measured[-1], 3) if measured else None


def predict_with_version(
    *, merchant: Merchant, version: EstimatorVersion, query: pd.DataFrame, stage: Stage
) -> Estimate | None:
    """Predict with a trained version; None when its artifact is refused (logged for ops)."""
    try:
        estimator = load_version(version)
    except ArtifactRefused as exc:
        logger.error("estimator %s refused at prediction: %s", version.version, exc.message)
        return None
    history = shipment_history_frame(merchant=merchant, since=history_since(days=WINDOW_DAYS + 30))
    index = HistoryIndex(history)
    features = build_features(index, query, stage=stage, schema=estimator.schema)
    days = estimator.predict_days(features, query)
    start = (query["purchased_at"] if stage == "purchase" else query["handed_over_at"]).iloc[0]
    start_day = pd.Timestamp(start).date()

    def at(values: np.ndarray) -> date:
        return start_day + timedelta(days=int(values[0]))

    return Estimate(
        window_start=at(days.p10),
        window_end=at(days.p90),
        central=at(days.p50),
        promise=at(days.promise),
        model_version=version.version,
        confidence=_confidence(estimator.calibration),
        stage=stage,
    )


def predict_with_rules(
    *, merchant: Merchant, query: pd.DataFrame, ship_date: date, carrier: str
) -> Estimate:
    """The transit-rule estimate: business days after the ship date on the carrier's calendar."""
    row = normalise_history(query).iloc[0]
    rule = best_rule(transit_rule_specs(merchant=merchant), row) or DEFAULT_RULE
    calendar = calendar_for(
        row["destination_country"] or merchant.country,
        closed_dates=carrier_closed_dates(merchant=merchant, carrier=carrier),
    )
    low, typical, high = (
        calendar.add_business_days(ship_date, days) if days else ship_date
        for days in (max(rule.min_days, 1), max(rule.typical_days, 1), max(rule.max_days, 1))
    )
    return Estimate(
        window_start=low,
        window_end=high,
        central=typical,
        promise=high,
        model_version=RULES_VERSION,
        confidence=None,
        stage="purchase",
    )


def estimate(
    *,
    merchant: Merchant,
    query: pd.DataFrame,
    stage: Stage,
    ship_date: date,
    carrier: str,
) -> Estimate:
    """The best estimate available: the active trained version, else the transit rules."""
    version = estimator_active(merchant=merchant, stage=stage)
    if version is None and stage == "handoff":
        version = estimator_active(merchant=merchant, stage="purchase")
        stage = "purchase"
    if version is not None:
        result = predict_with_version(merchant=merchant, version=version, query=query, stage=stage)
        if result is not None:
            return _not_before(result, ship_date)
    return predict_with_rules(merchant=merchant, query=query, ship_date=ship_date, carrier=carrier)


def _not_before(result: Estimate, ship_date: date) -> Estimate:
    """Nothing arrives before it ships: push every date past the ship date."""
    earliest = ship_date + timedelta(days=1)
    if result.window_start >= earliest:
        return result
    shift = earliest - result.window_start
    return (
        Estimate(
            window_start=earliest,
            window_end=max(result.window_end, earliest),
            central=max(result.central, earliest),
            promise=max(result.promise, earliest),
            model_version=result.model_version,
            confidence=result.confidence,
            stage=result.stage,
        )
        if shift.days > 0
        else result
    )


def ship_date_for(*, warehouse: Warehouse | None, ordered_at: datetime) -> tuple[date, datetime]:
    """The ship date of an order placed now, and the cut-off moment that ship date needs."""
    if warehouse is None:
        day = ordered_at.date()
        return day, datetime.combine(day, datetime.max.time(), tzinfo=ordered_at.tzinfo)
    calendar = calendar_for(
        warehouse.holiday_country or warehouse.country,
        subdivision=warehouse.holiday_subdivision,
        working_weekdays=warehouse.working_weekdays,
    )
    dispatch = dispatch_for_order(
        ordered_at=ordered_at,
        time_zone=warehouse.time_zone,
        cutoff=warehouse.cutoff_time,
        handling_days=warehouse.handling_days,
        calendar=calendar,
    )
    return dispatch.ship_date, dispatch.cutoff_at
