"""Censoring-aware delivery-time statistics: a recency-weighted Kaplan-Meier estimator.

Replaying time has a trap: at any moment the orders already delivered are the fast ones, the slow
ones are still travelling. Counting an in-flight order as "censored at its age" (we know it takes at
least that long) removes the bias, and makes a backlog visible within days: many recent orders
still in flight push the survival curve, and so every quantile, up before any of them arrive.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def km_quantiles(
    *,
    group: IntArray,
    n_groups: int,
    duration: IntArray,
    observed: npt.NDArray[np.bool_],
    weight: FloatArray,
    quantiles: tuple[float, ...],
    max_days: int = 90,
) -> tuple[FloatArray, FloatArray]:
    """Weighted Kaplan-Meier quantiles of whole-day durations, per group.

    `duration` is the delivery time in days for an observed row, and the age in days (a lower bound)
    for a censored one. Returns (quantiles [n_groups, len(quantiles)], weight of observed rows per
    group). A quantile the curve never reaches (too much censoring) is NaN.
    """
    width = max_days + 2
    out = np.full((n_groups, len(quantiles)), np.nan)
    if len(group) == 0:
        return out, np.zeros(n_groups)
    days = np.clip(duration, 0, max_days)
    # A row is at risk at day t while its delivery could still fall on t: observed rows up to
    # their delivery day, censored rows up to the day before their age.
    last_at_risk = np.where(observed, days, days - 1)
    keep = last_at_risk >= 0
    flat_exit = group[keep] * width + last_at_risk[keep]
    exits = np.bincount(flat_exit, weights=weight[keep], minlength=n_groups * width).reshape(
        n_groups, width
    )
    at_risk = np.cumsum(exits[:, ::-1], axis=1)[:, ::-1]
    flat_event = group[observed] * width + days[observed]
    events = np.bincount(flat_event, weights=weight[observed], minlength=n_groups * width).reshape(
        n_groups, width
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, events / at_risk, 0.0)
    cdf = 1.0 - np.cumprod(1.0 - hazard, axis=1)
    for j, q in enumerate(quantiles):
        reached = cdf >= q
        has = reached.any(axis=1)
        first = reached.argmax(axis=1)
        previous = np.take_along_axis(cdf, np.maximum(first - 1, 0)[:, None], axis=1)[:, 0]
        current = np.take_along_axis(cdf, first[:, None], axis=1)[:, 0]
        gap = current - previous
        step = np.divide(q - previous, gap, out=np.ones_like(gap), where=gap > 0)
        value = np.where(first > 0, first - 1 + step, 0.0)
        out[:, j] = np.where(has, value, np.nan)
    observed_weight = events.sum(axis=1)
    return out, observed_weight
