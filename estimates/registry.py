"""The model registry: store a trained estimator as a skops artifact, load it back safely.

skops never unpickles arbitrary code: loading lists the types an artifact would build and refuses
any outside `TRUSTED_TYPES`. A loaded artifact must carry the feature schema the running code
computes (names and order), or it is refused with a clear error; activation only happens after a
successful load, so a refused version never displaces the active one.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops
import skops.io as sio

from estimates.calibration import Calibration
from estimates.errors import EstimateErrorCode
from estimates.features import FeatureSchema, Stage, feature_names
from estimates.tiers.gbm import GradientBoostingTier
from estimates.tiers.lane_stats import LaneStatsTier
from estimates.tiers.rules import RulesTier, TransitRuleSpec
from estimates.training import TrainedEstimator
from postpurchase.errors import DomainError

ARTIFACT_FORMAT = 1
# The non-default types a gradient-boosting artifact legitimately contains; nothing else loads.
TRUSTED_TYPES = (
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)


class ArtifactRefused(DomainError):
    """An artifact that must not be used: wrong schema, untrusted content or unreadable."""


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "skops": skops.__version__,
    }


def artifact_dumps(estimator: TrainedEstimator) -> bytes:
    """The estimator as skops bytes (the schema and calibration travel inside it too)."""
    tier = estimator.tier
    body: dict[str, Any] = {
        "format": ARTIFACT_FORMAT,
        "tier": tier.name,
        "stage": estimator.stage,
        "schema_names": list(estimator.schema.names),
        "schema_fingerprint": estimator.schema.fingerprint,
        "models": list(tier.models) if isinstance(tier, GradientBoostingTier) else [],
        "dead_columns": list(tier.dead_columns) if isinstance(tier, GradientBoostingTier) else [],
        "fallback": (
            np.asarray(tier.fallback, dtype=float)
            if isinstance(tier, LaneStatsTier)
            else np.zeros(3)
        ),
        "rules": (
            [rule.__dict__.copy() for rule in tier.rules] if isinstance(tier, RulesTier) else []
        ),
    }
    return sio.dumps(body)


def artifact_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredEstimator:
    """What the registry keeps beside the artifact bytes."""

    stage: Stage
    schema: FeatureSchema
    calibration: Calibration
    as_of: pd.Timestamp


def artifact_loads(data: bytes, *, expected: StoredEstimator) -> TrainedEstimator:
    """Load an artifact, refusing untrusted types and any feature-schema mismatch."""
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises many kinds on a damaged file
        raise ArtifactRefused(
            EstimateErrorCode.ARTIFACT_CORRUPT, f"The model artifact cannot be read: {exc}"
        ) from exc
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ArtifactRefused(
            EstimateErrorCode.ARTIFACT_UNTRUSTED,
            "The model artifact contains types that are not trusted: " + ", ".join(unexpected),
        )
    body = sio.loads(data, trusted=list(untrusted))
    running = feature_names(expected.stage)
    stored = tuple(body.get("schema_names", ()))
    problems = []
    if body.get("format") != ARTIFACT_FORMAT:
        problems.append(f"artifact format {body.get('format')!r}, expected {ARTIFACT_FORMAT}")
    if body.get("stage") != expected.stage:
        problems.append(f"stage {body.get('stage')!r}, expected {expected.stage!r}")
    if stored != running or tuple(expected.schema.names) != running:
        missing = [n for n in running if n not in stored]
        extra = [n for n in stored if n not in running]
        detail = []
        if missing:
            detail.append("missing " + ", ".join(missing))
        if extra:
            detail.append("unknown " + ", ".join(extra))
        if not detail:
            detail.append("same features in a different order")
        problems.append(
            "feature schema does not match this version of the code (" + "; ".join(detail) + ")"
        )
    if body.get("schema_fingerprint") != expected.schema.fingerprint:
        problems.append("schema fingerprint differs from the one registered with the version")
    if problems:
        raise ArtifactRefused(
            EstimateErrorCode.ARTIFACT_SCHEMA_MISMATCH,
            "The model artifact was refused: " + "; ".join(problems) + ".",
        )
    tier: Any
    name = body["tier"]
    if name == "gbm":
        tier = GradientBoostingTier(stage=expected.stage)
        tier.models = list(body["models"])
        tier.dead_columns = [int(i) for i in body.get("dead_columns", [])]
    elif name == "lane_stats":
        tier = LaneStatsTier(stage=expected.stage)
        tier.fallback = np.asarray(body["fallback"], dtype=float)
    elif name == "rules":
        tier = RulesTier(
            stage=expected.stage, rules=[TransitRuleSpec(**rule) for rule in body["rules"]]
        )
    else:
        raise ArtifactRefused(
            EstimateErrorCode.ARTIFACT_CORRUPT, f"The artifact names an unknown tier {name!r}."
        )
    return TrainedEstimator(
        tier=tier,
        stage=expected.stage,
        schema=expected.schema,
        calibration=expected.calibration,
        as_of=expected.as_of,
        training_start=None,
        n_train=0,
    )
