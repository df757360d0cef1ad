"""The estimator tiers: transit rules, lane statistics, gradient boosting.

Each tier turns feature rows (or raw queries, for the rules) into raw P10/P50/P90 day counts
from the prediction day; `estimates.calibration` turns those into a calibrated window and promise.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from estimates.features import FeatureSchema, Stage


class Tier(Protocol):
    """What every tier offers to training and prediction."""

    name: str
    stage: Stage

    def fit(
        self,
        features: pd.DataFrame,
        queries: pd.DataFrame,
        y: np.ndarray,
        weight: np.ndarray,
        schema: FeatureSchema,
    ) -> None: ...

    def predict(self, features: pd.DataFrame, queries: pd.DataFrame) -> np.ndarray: ...


def ordered(quantiles: np.ndarray) -> np.ndarray:
    """Quantile rows sorted so P10 <= P50 <= P90 (independent models may cross)."""
    return np.sort(quantiles, axis=1)
