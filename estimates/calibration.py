"""From raw tier quantiles to what the shopper sees: a calibrated P10-P90 window, a central date
and a promise date chosen to hit the on-time target, all in whole days.

Shifts are fitted on a held-out, earlier stretch of time (conformalised quantile regression), on
the same whole-day rounding the dates use, so the measured on-time rate is the one promised.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from estimates.tiers import ordered

SHIFT_GRID = np.round(np.arange(-10.0, 25.01, 0.25), 2)
MIN_CALIBRATION_ROWS = 30


@dataclass(frozen=True)
class Calibration:
    """Day shifts applied to raw P10/P50/P90 and the promise, and how they were measured."""

    lower_shift: float = 0.0
    central_shift: float = 0.0
    upper_shift: float = 0.0
    promise_shift: float = 0.0
    on_time_target: float = 0.9
    coverage_target: float = 0.8
    n: int = 0
    # (nominal level, observed share delivered by then) on the calibration rows, for the plot.
    reliability: list[tuple[float, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        values = dict(data)
        values["reliability"] = [tuple(p) for p in values.get("reliability") or []]
        return cls(**values)


@dataclass(frozen=True)
class DayWindow:
    """Whole days from the prediction day: window, central estimate and promise."""

    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    promise: np.ndarray


def _days(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.rint(values), 0.0)


def apply(calibration: Calibration, raw: np.ndarray) -> DayWindow:
    """Calibrated whole-day P10/P50/P90 and promise for raw quantile rows."""
    raw = ordered(raw)
    p10 = _days(raw[:, 0] - calibration.lower_shift)
    p50 = _days(raw[:, 1] + calibration.central_shift)
    p90 = _days(raw[:, 2] + calibration.upper_shift)
    promise = _days(raw[:, 2] + calibration.promise_shift)
    p10 = np.minimum(p10, p50)
    p90 = np.maximum(p90, p50)
    promise = np.maximum(promise, p50)
    return DayWindow(p10=p10, p50=p50, p90=p90, promise=promise)


def _weighted_share(hit: np.ndarray, weight: np.ndarray) -> float:
    return float((hit * weight).sum() / weight.sum())


def _smallest_shift(base: np.ndarray, y: np.ndarray, weight: np.ndarray, target: float) -> float:
    """The smallest shift s with share(y <= round(base + s)) >= target."""
    for shift in SHIFT_GRID:
        if _weighted_share(y <= _days(base + shift), weight) >= target:
            return float(shift)
    return float(SHIFT_GRID[-1])


def _largest_shift(base: np.ndarray, y: np.ndarray, weight: np.ndarray, target: float) -> float:
    """The smallest s with share(y >= round(base - s)) >= target (lower edge of the window)."""
    for shift in SHIFT_GRID:
        if _weighted_share(y >= _days(base - shift), weight) >= target:
            return float(shift)
    return float(SHIFT_GRID[-1])


def fit(
    raw: np.ndarray,
    y: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    on_time_target: float = 0.9,
    coverage_target: float = 0.8,
) -> Calibration:
    """Fit shifts on held-out rows; `y` is +inf for a row still undelivered (late for sure)."""
    if len(y) < MIN_CALIBRATION_ROWS:
        return Calibration(on_time_target=on_time_target, coverage_target=coverage_target)
    raw = ordered(raw)
    weight = np.ones(len(y)) if weight is None else weight
    tail = (1.0 + coverage_target) / 2.0
    finite = np.isfinite(y)
    residual = y[finite] - raw[finite, 1]
    order = np.argsort(residual)
    cumulative = np.cumsum(weight[finite][order]) / weight[finite].sum()
    central = float(np.round(residual[order][np.searchsorted(cumulative, 0.5)] * 4) / 4)
    calibration = Calibration(
        lower_shift=_largest_shift(raw[:, 0], y, weight, tail),
        central_shift=central,
        upper_shift=_smallest_shift(raw[:, 2], y, weight, tail),
        promise_shift=_smallest_shift(raw[:, 2], y, weight, on_time_target),
        on_time_target=on_time_target,
        coverage_target=coverage_target,
        n=len(y),
    )
    window = apply(calibration, raw)
    reliability = [
        (round(1 - tail, 3), _weighted_share(y <= window.p10, weight)),
        (0.5, _weighted_share(y <= window.p50, weight)),
        (round(tail, 3), _weighted_share(y <= window.p90, weight)),
        (on_time_target, _weighted_share(y <= window.promise, weight)),
    ]
    return Calibration(**{**calibration.to_json(), "reliability": reliability})  # type: ignore[arg-type]
