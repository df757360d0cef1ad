"""Training and backtesting: no leakage by construction, censoring, calibration, tier choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estimates.features import HistoryIndex, build_features, schema_for
from estimates.survival import km_quantiles
from estimates.training import (
    _calibration_rows,
    _features_for,
    _held_out_raw,
    backtest,
    date_metrics,
    tier_score,
    train,
)
from tests.estimates.synthetic import synthetic_history

TRAIN_UNTIL = pd.Timestamp("2024-04-15")
TEST_FROM = pd.Timestamp("2024-04-15")
TEST_UNTIL = pd.Timestamp("2024-06-20")


def _known_at(history: pd.DataFrame, moment: pd.Timestamp) -> pd.DataFrame:
    """The history as a live system saw it at `moment`: later orders absent, later scans unknown."""
    known = history[history["purchased_at"] < moment].copy()
    known.loc[known["delivered_at"] >= moment, "delivered_at"] = pd.NaT
    known.loc[known["handed_over_at"] >= moment, "handed_over_at"] = pd.NaT
    return known


def _scrambled_future(
    history: pd.DataFrame, moment: pd.Timestamp, seed: int, keep_row: int
) -> pd.DataFrame:
    """The same past, a different future: every outcome from `moment` on is changed, and every
    later order but `keep_row` goes elsewhere."""
    rng = np.random.default_rng(seed)
    changed = history.copy()
    later = (changed["delivered_at"] >= moment).to_numpy()
    changed.loc[later, "delivered_at"] += pd.to_timedelta(rng.uniform(1, 25, later.sum()), "D")
    newer = (changed["purchased_at"] >= moment).to_numpy().copy()
    newer[keep_row] = False
    changed.loc[newer, "destination_region"] = "AM"
    return changed


def test_snapshot_features_equal_those_computed_from_only_the_known_past() -> None:
    history = synthetic_history()
    query = history.iloc[[250]]
    moment = query["purchased_at"].iloc[0].floor("D")
    schema = schema_for(history, stage="purchase")
    full = build_features(HistoryIndex(history), query, stage="purchase", schema=schema)
    past_only = build_features(
        HistoryIndex(_known_at(history, moment)), query, stage="purchase", schema=schema
    )
    pd.testing.assert_frame_equal(full, past_only)


@pytest.mark.parametrize("tier", ["lane_stats", "gbm"])
def test_backtest_prediction_never_sees_its_own_outcome_or_later_orders(tier: str) -> None:
    history = synthetic_history()
    run = backtest(
        HistoryIndex(history),
        tier_name=tier,
        stage="purchase",
        train_until=TRAIN_UNTIL,
        test_from=TEST_FROM,
        test_until=TEST_UNTIL,
        retrain_days=0,
    )
    probe = run.predictions.iloc[len(run.predictions) // 2]
    moment = history["purchased_at"].iloc[int(probe["row"])].floor("D")
    # Change the probe's own delivery and every outcome and order from its day on.
    altered = _scrambled_future(history, moment, seed=3, keep_row=int(probe["row"]))
    assert (
        altered["delivered_at"].iloc[int(probe["row"])]
        != history["delivered_at"].iloc[int(probe["row"])]
    )
    rerun = backtest(
        HistoryIndex(altered),
        tier_name=tier,
        stage="purchase",
        train_until=TRAIN_UNTIL,
        test_from=TEST_FROM,
        test_until=TEST_UNTIL,
        retrain_days=0,
    )
    again = rerun.predictions.set_index("order_id").loc[probe["order_id"]]
    for column in ("p10", "p50", "p90", "promise"):
        assert again[column] == probe[column], column


def test_training_uses_only_outcomes_known_before_the_cutoff() -> None:
    history = synthetic_history()
    index = HistoryIndex(history)
    model = train(index, tier_name="lane_stats", stage="purchase", as_of=TRAIN_UNTIL)
    known = history[
        (history["purchased_at"] < TRAIN_UNTIL) & (history["delivered_at"] < TRAIN_UNTIL)
    ]
    assert model.n_train == len(known)
    assert model.n_train < (history["purchased_at"] < TRAIN_UNTIL).sum()


def test_test_period_before_the_training_cutoff_is_refused() -> None:
    with pytest.raises(ValueError, match="on or after the training cut-off"):
        backtest(
            HistoryIndex(synthetic_history()),
            tier_name="rules",
            stage="purchase",
            train_until=TEST_FROM,
            test_from=TRAIN_UNTIL - pd.Timedelta(days=1),
            test_until=TEST_UNTIL,
        )


def test_in_flight_orders_raise_the_median_over_delivered_only() -> None:
    # Ten orders: five delivered in 2 days, five still in flight at age 6 days.
    durations = np.array([2, 2, 2, 2, 2, 6, 6, 6, 6, 6])
    observed = np.array([True] * 5 + [False] * 5)
    weight = np.ones(10)
    group = np.zeros(10, dtype=np.int64)
    with_censoring, _ = km_quantiles(
        group=group,
        n_groups=1,
        duration=durations,
        observed=observed,
        weight=weight,
        quantiles=(0.5, 0.9),
    )
    delivered_only, _ = km_quantiles(
        group=group[:5],
        n_groups=1,
        duration=durations[:5],
        observed=observed[:5],
        weight=weight[:5],
        quantiles=(0.5, 0.9),
    )
    assert delivered_only[0, 1] <= 2.0
    assert with_censoring[0, 0] <= 2.0  # half delivered by day 2 ...
    assert np.isnan(with_censoring[0, 1])  # ... and nobody can yet say when 90 % will be


def test_backtest_on_synthetic_lanes_is_accurate_and_calibrated() -> None:
    history = synthetic_history(n=600, days=240)
    run = backtest(
        HistoryIndex(history),
        tier_name="gbm",
        stage="purchase",
        train_until=pd.Timestamp("2024-06-01"),
        test_from=pd.Timestamp("2024-06-01"),
        test_until=pd.Timestamp("2024-08-20"),
        retrain_days=0,
    )
    metrics = date_metrics(run.predictions)
    assert metrics["n"] > 100
    assert metrics["mae_p50_days"] < 2.5
    assert metrics["promise_on_time"] > 0.8
    assert 0.6 < metrics["p10_p90_coverage"] <= 1.0


def test_after_handoff_prediction_starts_from_the_handoff_day() -> None:
    history = synthetic_history(n=400)
    run = backtest(
        HistoryIndex(history),
        tier_name="lane_stats",
        stage="handoff",
        train_until=TRAIN_UNTIL,
        test_from=TEST_FROM,
        test_until=TEST_UNTIL,
        retrain_days=0,
    )
    handoff_days = history["handed_over_at"].iloc[run.predictions["row"]].dt.floor("D")
    assert (run.predictions["p10"].to_numpy() >= handoff_days.to_numpy()).all()


def test_missing_the_on_time_target_costs_more_than_padding() -> None:
    punctual = {"mae_p50_days": 4.0, "promise_on_time": 0.92, "promise_padding_days": 9.0}
    late = {"mae_p50_days": 3.8, "promise_on_time": 0.84, "promise_padding_days": 6.0}
    assert tier_score(punctual) < tier_score(late)


def test_features_for_a_merchant_without_history_are_missing_not_an_error() -> None:
    from estimates.features import empty_history

    query = synthetic_history(n=20).iloc[[5]]
    schema = schema_for(query, stage="purchase")
    features = build_features(HistoryIndex(empty_history()), query, stage="purchase", schema=schema)
    assert np.isnan(features["lane_p50"].iloc[0])
    assert features["seller_orders_30d"].iloc[0] == 0


def test_the_tier_that_keeps_the_promise_with_less_padding_is_chosen() -> None:
    # Both keep the on-time target; the sharper one wins even with a slightly worse P50.
    padded = {
        "mae_p50_days": 4.1,
        "promise_on_time": 0.94,
        "promise_padding_days": 10.7,
        "p10_p90_coverage": 0.87,
    }
    sharp = {
        "mae_p50_days": 4.2,
        "promise_on_time": 0.91,
        "promise_padding_days": 9.0,
        "p10_p90_coverage": 0.82,
    }
    assert tier_score(sharp) < tier_score(padded)
    # A window outside 80 % +- 5 costs more the further it is.
    wide = {**sharp, "p10_p90_coverage": 0.95}
    assert tier_score(sharp) < tier_score({**sharp, "p10_p90_coverage": 0.88}) < tier_score(wide)


def test_in_flight_orders_past_their_promise_count_as_late_in_a_replay() -> None:
    day = pd.Timestamp("2024-05-01")
    predictions = pd.DataFrame(
        {
            "p10": [day] * 4,
            "p50": [day + pd.Timedelta(days=3)] * 4,
            "p90": [day + pd.Timedelta(days=6)] * 4,
            "promise": [day + pd.Timedelta(days=6)] * 4,
            # Two delivered on time; one in flight past its promise; one in flight, promise ahead.
            "actual": [day + pd.Timedelta(days=2), day + pd.Timedelta(days=4), pd.NaT, pd.NaT],
        }
    )
    predictions.loc[2, "promise"] = day + pd.Timedelta(days=5)
    predictions.loc[2, "p90"] = day + pd.Timedelta(days=5)
    replay = date_metrics(predictions, censored_at=day + pd.Timedelta(days=6))
    assert replay["n"] == 2
    assert replay["n_in_flight_late"] == 1
    assert replay["promise_on_time"] == pytest.approx(2 / 3)
    assert replay["p10_p90_coverage"] == pytest.approx(2 / 3)
    assert replay["mae_p50_days"] == pytest.approx(1.0)
    # Without the replay moment the in-flight orders are simply not judged.
    assert date_metrics(predictions)["promise_on_time"] == 1.0


@pytest.mark.parametrize("tier", ["rules", "lane_stats", "gbm"])
def test_calibration_uses_only_what_was_known_before_the_cut(tier: str) -> None:
    history = synthetic_history()
    model = train(HistoryIndex(history), tier_name=tier, stage="purchase", as_of=TRAIN_UNTIL)
    assert model.calibration.n > 30
    # Every outcome from the cut on changes (including the deliveries, after it, of orders placed
    # before it: still in flight at the cut), and every later order goes elsewhere.
    altered = _scrambled_future(history, TRAIN_UNTIL, seed=5, keep_row=0)
    in_flight = (history["purchased_at"] < TRAIN_UNTIL) & (history["delivered_at"] >= TRAIN_UNTIL)
    assert in_flight.sum() > 5
    again = train(HistoryIndex(altered), tier_name=tier, stage="purchase", as_of=TRAIN_UNTIL)
    assert again.calibration == model.calibration


@pytest.mark.parametrize("tier", ["rules", "gbm"])
def test_calibration_rows_are_predicted_without_their_own_outcomes(tier: str) -> None:
    history = synthetic_history()
    index = HistoryIndex(history)
    frame = index.history
    schema = schema_for(frame[frame["purchased_at"] < TRAIN_UNTIL], stage="purchase")
    features = _features_for(index, frame, "purchase", schema)
    rows = _calibration_rows(frame, "purchase", TRAIN_UNTIL)
    raw = _held_out_raw(tier, "purchase", frame, features, schema, TRAIN_UNTIL, (), rows)
    assert raw is not None
    # The first block of the stretch (its oldest third): every order delivered early enough is
    # made 8 days slower, still known before the cut.
    first = rows[: len(rows) // 3]
    slower = frame.copy()
    changed = first[(slower["delivered_at"].iloc[first] + pd.Timedelta(days=8) < TRAIN_UNTIL)]
    assert len(changed) > 10
    slower.loc[slower.index[changed], "delivered_at"] += pd.Timedelta(days=8)
    again = _held_out_raw(
        tier, "purchase", HistoryIndex(slower).history, features, schema, TRAIN_UNTIL, (), rows
    )
    assert again is not None
    # Its own predictions do not move; those of the blocks whose copies trained on it do.
    np.testing.assert_array_equal(again[: len(first)], raw[: len(first)])
    assert (again[len(first) + 1 :] > raw[len(first) + 1 :]).any()
