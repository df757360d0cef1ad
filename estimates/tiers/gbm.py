"""Tier 3: gradient boosting with quantile losses (P10, P50, P90) over the snapshot features.

Small models on one core (scikit-learn's HistGradientBoostingRegressor is single-process unless
OpenMP has more threads; the caller limits those): a few hundred shallow trees each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from estimates.features import QUANTILES, FeatureSchema, Stage, categorical_mask

DEFAULT_PARAMS: dict[str, Any] = {
    "max_iter": 250,
    "learning_rate": 0.05,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 30,
    "l2_regularization": 1.0,
    "max_bins": 255,
}


class GradientBoostingTier:
    name = "gbm"

    def __init__(
        self, *, stage: Stage, params: dict[str, Any] | None = None, random_state: int = 0
    ) -> None:
        self.stage = stage
        self.params = {**DEFAULT_PARAMS, **(params or {})}
        self.random_state = random_state
        self.models: list[HistGradientBoostingRegressor] = []
        # Columns without a single value in training (e.g. no parcel weights yet): held constant,
        # since scikit-learn cannot bin an all-missing numeric column.
        self.dead_columns: list[int] = []

    def _matrix(self, features: pd.DataFrame) -> np.ndarray:
        x = np.array(features.to_numpy(dtype=float), copy=True)
        if self.dead_columns:
            x[:, self.dead_columns] = 0.0
        return x

    def fit(
        self,
        features: pd.DataFrame,
        queries: pd.DataFrame,
        y: np.ndarray,
        weight: np.ndarray,
        schema: FeatureSchema,
    ) -> None:
        mask = categorical_mask(schema.names)
        params = dict(self.params)
        # Tiny training sets (tests, new merchants) cannot fill leaves of the default size.
        params["min_samples_leaf"] = max(2, min(params["min_samples_leaf"], len(y) // 10))
        if len(y) < 2000:  # small histories: fewer, so faster, trees are as good
            params["max_iter"] = min(params["max_iter"], 80)
            params["learning_rate"] = max(params["learning_rate"], 0.1)
        self.models = []
        values = features.to_numpy(dtype=float)
        self.dead_columns = [
            i for i in range(values.shape[1]) if np.isnan(values[:, i]).all() and not mask[i]
        ]
        x = self._matrix(features)
        for q in QUANTILES:
            model = HistGradientBoostingRegressor(
                loss="quantile",
                quantile=q,
                categorical_features=mask,
                random_state=self.random_state,
                **params,
            )
            with threadpool_limits(limits=1, user_api="openmp"):
                model.fit(x, y, sample_weight=weight)
            self.models.append(model)

    def predict(self, features: pd.DataFrame, queries: pd.DataFrame) -> np.ndarray:
        if not self.models:
            raise ValueError("the gradient-boosting tier has not been trained")
        x = self._matrix(features)
        with threadpool_limits(limits=1, user_api="openmp"):
            return np.column_stack([model.predict(x) for model in self.models])
