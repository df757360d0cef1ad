"""From raw tier quantiles to what the shopper sees: a calibrated P10-P90 window, a central date
and a promise date chosen to hit the on-time target, all in whole days.

Shifts are fitted on a held-out, recent stretch of time (conformalised quantile regression), on
the same whole-day rounding the dates use, so the measured on-time rate is the one promised. The
stretch is recent, so some of its parcels are still travelling: each share "delivered by its own
bound" is a weighted Kaplan-Meier estimate in which an undelivered parcel counts as late once its
bound has passed and as censored (it takes at least its age) before that, rather than as late for
sure, which would pad every promise, or as absent, which would keep only the fast ones.
"""

from __future__ import annotations

from collections.abc import Callable
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


def share_by(
    bound: np.ndarray, duration: np.ndarray, observed: np.ndarray, weight: np.ndarray
) -> float:
    """Censoring-aware weighted share of rows delivered by their own `bound` (whole days).

    `duration` is the delivery time of an observed row and the age (a lower bound: it takes at
    least that long) of a row still in flight. Kaplan-Meier on the lateness `duration - bound`:
    a row in flight whose bound has passed is late for sure; one whose bound is still ahead
    leaves the risk set, its weight shared among the rows like it. Without censoring this is the
    plain weighted share.
    """
    lateness = duration - bound
    events = observed & (lateness <= 0)
    if not events.any():
        return 0.0
    survival = 1.0
    for u in np.unique(lateness[events]):
        at_risk = weight[lateness >= u].sum()
        happened = weight[events & (lateness == u)].sum()
        if at_risk > 0:
            survival *= 1.0 - happened / at_risk
    return float(1.0 - survival)


def _first_shift(share_at: Callable[[float], float], target: float, *, nearest: bool) -> float:
    """The smallest shift of the grid whose share reaches `target`; with `nearest`, the shift just
    below it instead when its share is closer to the target (a two-sided window aims at its
    level, not at least at it: whole days make each step overshoot)."""
    below: tuple[float, float] | None = None
    for shift in SHIFT_GRID:
        share = share_at(float(shift))
        if share >= target:
            if nearest and below is not None and target - below[1] < share - target:
                return below[0]
            return float(shift)
        below = (float(shift), share)
    return float(SHIFT_GRID[-1])


def fit(
    raw: np.ndarray,
    y: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    age: np.ndarray | None = None,
    on_time_target: float = 0.9,
    coverage_target: float = 0.8,
    nearest_edges: bool = True,
) -> Calibration:
    """Fit shifts on held-out rows. `y` is NaN or +inf for a row still undelivered; `age` (whole
    days it has been travelling) makes such a row censored at its age, and without it the row is
    late for sure.

    The promise is the smallest shift that keeps the on-time target (a floor). With
    `nearest_edges` each window edge is the shift whose share is nearest its level: P10-P90
    coverage aims at the coverage target rather than at least at it, since with whole days each
    step of a shift moves the share by several points and "at least" overshoots on both sides."""
    if len(y) < MIN_CALIBRATION_ROWS:
        return Calibration(on_time_target=on_time_target, coverage_target=coverage_target)
    raw = ordered(raw)
    weight = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    observed = np.isfinite(y)
    if age is None:
        duration = np.where(observed, y, np.inf)
    else:
        duration = np.where(observed, y, np.asarray(age, dtype=float))
    tail = (1.0 + coverage_target) / 2.0

    def by(bound: np.ndarray) -> float:
        return share_by(bound, duration, observed, weight)

    def upper(shift: float) -> float:
        return by(_days(raw[:, 2] + shift))

    def not_early(shift: float) -> float:
        return 1.0 - by(_days(raw[:, 0] - shift) - 1.0)

    calibration = Calibration(
        lower_shift=_first_shift(not_early, tail, nearest=nearest_edges),
        central_shift=_first_shift(lambda s: by(_days(raw[:, 1] + s)), 0.5, nearest=False),
        upper_shift=_first_shift(upper, tail, nearest=nearest_edges),
        promise_shift=_first_shift(upper, on_time_target, nearest=False),
        on_time_target=on_time_target,
        coverage_target=coverage_target,
        n=len(y),
    )
    window = apply(calibration, raw)
    reliability = [
        (round(1 - tail, 3), by(window.p10)),
        (0.5, by(window.p50)),
        (round(tail, 3), by(window.p90)),
        (on_time_target, by(window.promise)),
    ]
    return Calibration(**{**calibration.to_json(), "reliability": reliability})  # type: ignore[arg-type]
