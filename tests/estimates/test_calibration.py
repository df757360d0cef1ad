"""Calibration shifts on a recent stretch with parcels still in flight (censoring-aware)."""

from __future__ import annotations

import numpy as np
import pytest

from estimates.calibration import apply, fit, share_by


def test_share_by_equals_the_plain_share_without_censoring() -> None:
    duration = np.array([1.0, 3.0, 5.0, 7.0])
    bound = np.array([2.0, 2.0, 6.0, 6.0])
    weight = np.array([1.0, 1.0, 1.0, 3.0])
    observed = np.ones(4, dtype=bool)
    assert share_by(bound, duration, observed, weight) == pytest.approx(2 / 6)


def test_an_in_flight_parcel_is_late_only_once_its_bound_has_passed() -> None:
    # Four delivered by day 2; one in flight for 8 days (its bound of 5 has passed: late);
    # five in flight for 1 day with the bound ahead (censored, not counted late).
    duration = np.array([2.0] * 4 + [8.0] + [1.0] * 5)
    observed = np.array([True] * 4 + [False] * 6)
    bound = np.full(10, 5.0)
    weight = np.ones(10)
    share = share_by(bound, duration, observed, weight)
    assert share == pytest.approx(4 / 5)  # the young ones leave the risk set before day 2
    assert share > (duration[observed] <= 5).sum() / 10  # counting them late would say 0.4


def test_promise_shift_is_not_padded_by_parcels_that_have_just_left() -> None:
    rng = np.random.default_rng(1)
    n = 400
    y = rng.integers(3, 12, n).astype(float)
    raw = np.column_stack([np.full(n, 3.0), np.full(n, 7.0), np.full(n, 10.0)])
    age = rng.integers(0, 30, n).astype(float)
    in_flight = y >= age  # not yet delivered at the calibration moment
    y_known = np.where(in_flight, np.nan, y)
    censored = fit(raw, y_known, age=age, on_time_target=0.9)
    all_late = fit(raw, y_known, on_time_target=0.9)
    complete = fit(raw, y, on_time_target=0.9)
    assert censored.promise_shift < all_late.promise_shift
    assert abs(censored.promise_shift - complete.promise_shift) <= 1.0
    promise = apply(censored, raw).promise
    assert (y <= promise).mean() >= 0.85
