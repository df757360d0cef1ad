"""Calibration shifts on a recent stretch with parcels still in flight (censoring-aware)."""

from __future__ import annotations

import numpy as np
import pytest

from estimates.calibration import Calibration, apply, fit, share_by


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


def _known_distribution(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Lanes with log-normal delivery times (medians spread over 3-20 days, sigma 0.3) rounded
    to whole days, and a tier whose raw band is far too wide: its P10/P90 are the true P2/P98
    (2.054 standard deviations out) and its P50 is a day late."""
    rng = np.random.default_rng(seed)
    mu = np.log(rng.uniform(3.0, 20.0, n))
    y = np.rint(np.exp(mu + 0.3 * rng.standard_normal(n)))
    raw = np.exp(mu[:, None] + 0.3 * np.array([-2.054, 0.0, 2.054])) + np.array([0.0, 1.0, 0.0])
    return raw, y


def test_a_calibrated_band_hits_its_coverage_on_fresh_data_of_a_known_distribution() -> None:
    raw, y = _known_distribution(3000, seed=2)
    fresh_raw, fresh_y = _known_distribution(20000, seed=3)
    assert ((fresh_y >= fresh_raw[:, 0]) & (fresh_y <= fresh_raw[:, 2])).mean() > 0.93
    window = apply(fit(raw, y, on_time_target=0.9, coverage_target=0.8), fresh_raw)
    assert abs(((fresh_y >= window.p10) & (fresh_y <= window.p90)).mean() - 0.8) <= 0.03
    assert 0.89 <= (fresh_y <= window.promise).mean() <= 0.93
    assert abs(np.median(window.p50 - fresh_y)) <= 0.5  # the day-late P50 is pulled back


def test_window_edges_aim_at_their_level_while_the_promise_keeps_its_floor() -> None:
    # Whole-day outcomes from a constant prediction: each day is a big step in the share, so
    # "at least 90 % by the upper edge" overshoots; the nearest edge does not.
    rng = np.random.default_rng(6)
    y = rng.choice(np.arange(3.0, 9.0), 2000, p=[0.05, 0.1, 0.25, 0.3, 0.22, 0.08])
    raw = np.column_stack([np.full(2000, 4.0), np.full(2000, 6.0), np.full(2000, 7.0)])
    floor = fit(raw, y, nearest_edges=False)
    nearest = fit(raw, y, nearest_edges=True)

    def coverage(calibration: Calibration) -> float:
        window = apply(calibration, raw)
        return float(((y >= window.p10) & (y <= window.p90)).mean())

    assert abs(coverage(nearest) - 0.8) < abs(coverage(floor) - 0.8)
    assert (y <= apply(nearest, raw).promise).mean() >= 0.9  # the promise is still a floor
    assert nearest.promise_shift == floor.promise_shift
