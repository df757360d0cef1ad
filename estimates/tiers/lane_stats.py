"""Tier 2: lane statistics from the merchant's own deliveries, recency-weighted and
censoring-corrected (the snapshot features of `estimates.features`), falling back from the lane to
the destination to everything when a lane has too little history."""

from __future__ import annotations

import numpy as np
import pandas as pd

from estimates.features import FeatureSchema, Stage

MIN_WEIGHT = 3.0  # recency-weighted deliveries a lane needs before its own figures are trusted


class LaneStatsTier:
    name = "lane_stats"

    def __init__(self, *, stage: Stage) -> None:
        self.stage = stage
        self.fallback = np.array([2.0, 7.0, 20.0])

    def fit(
        self,
        features: pd.DataFrame,
        queries: pd.DataFrame,
        y: np.ndarray,
        weight: np.ndarray,
        schema: FeatureSchema,
    ) -> None:
        """Only a last-resort fallback is learnt: the weighted quantiles of all targets."""
        if len(y):
            order = np.argsort(y)
            cumulative = np.cumsum(weight[order]) / weight.sum()
            self.fallback = np.array(
                [y[order][np.searchsorted(cumulative, q)] for q in (0.1, 0.5, 0.9)], dtype=float
            )

    def predict(self, features: pd.DataFrame, queries: pd.DataFrame) -> np.ndarray:
        prefix = "" if self.stage == "purchase" else "transit_"
        lane = features[[f"{prefix}lane_p10", f"{prefix}lane_p50", f"{prefix}lane_p90"]].to_numpy()
        lane_ok = (features[f"{prefix}lane_n"].to_numpy() >= MIN_WEIGHT) & ~np.isnan(lane).any(1)
        out = np.tile(self.fallback, (len(features), 1))
        if self.stage == "purchase":
            dest = features[["dest_p50", "dest_p50", "dest_p90"]].to_numpy().copy()
            # The destination level keeps no P10: scale it from its median as the lanes do.
            dest[:, 0] = dest[:, 1] * 0.6
            dest_ok = (features["dest_n"].to_numpy() >= MIN_WEIGHT) & ~np.isnan(dest).any(1)
            out = np.where(dest_ok[:, None], dest, out)
        return np.where(lane_ok[:, None], lane, out)
