"""The model registry: skops artifacts, schema verification, activation only when better."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pandas as pd
import pytest
import skops.io as sio

from estimates.errors import EstimateErrorCode
from estimates.features import HistoryIndex
from estimates.models import EstimatorVersion
from estimates.registry import ArtifactRefused, artifact_dumps
from estimates.services import version_activate, version_activate_if_better, version_register
from estimates.training import train
from tests.estimates.synthetic import synthetic_history

AS_OF = datetime(2024, 5, 1, tzinfo=UTC)
GOOD = {"mae_p50_days": 2.0, "promise_on_time": 0.91, "promise_padding_days": 3.0}
WORSE = {"mae_p50_days": 3.5, "promise_on_time": 0.90, "promise_padding_days": 4.0}


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    return train(
        HistoryIndex(synthetic_history(n=240)),
        tier_name="gbm",
        stage="purchase",
        as_of=pd.Timestamp("2024-05-01"),
    )


def _register(merchant, trained, metrics, when=AS_OF):  # type: ignore[no-untyped-def]
    return version_register(
        merchant=merchant,
        estimator=trained,
        metrics=metrics,
        tier_metrics={"gbm": metrics},
        as_of=when,
    )


def test_a_registered_version_stores_its_artifact_schema_and_library_versions(
    merchant_a, trained, settings, tmp_path
) -> None:
    settings.ESTIMATES_ARTIFACT_DIR = str(tmp_path)
    version = _register(merchant_a, trained, GOOD)
    assert version.schema_fingerprint == trained.schema.fingerprint
    assert version.library_versions["scikit-learn"]
    assert (
        bytes(version.artifact) == (tmp_path / "aurora" / f"{version.version}.skops").read_bytes()
    )
    assert not version.is_active
    outcome = version_activate_if_better(version=version)
    assert outcome.activated
    version.refresh_from_db()
    assert version.is_active


def test_artifact_with_another_feature_schema_is_refused_and_previous_stays_active(
    merchant_a, trained
) -> None:
    previous = _register(merchant_a, trained, WORSE, datetime(2024, 4, 1, tzinfo=UTC))
    version_activate(version=previous)
    candidate = _register(merchant_a, trained, GOOD)
    # An artifact written by code with another feature list (a feature renamed, one dropped).
    body = sio.loads(
        bytes(candidate.artifact), trusted=sio.get_untrusted_types(data=bytes(candidate.artifact))
    )
    body["schema_names"] = [n if n != "lane_p50" else "lane_median" for n in body["schema_names"]]
    body["schema_names"].remove("hour")
    EstimatorVersion.objects.filter(pk=candidate.pk).update(artifact=sio.dumps(body))
    candidate.refresh_from_db()

    with pytest.raises(ArtifactRefused) as refused:
        version_activate(version=candidate)
    assert refused.value.code == EstimateErrorCode.ARTIFACT_SCHEMA_MISMATCH
    assert "missing hour, lane_p50" in refused.value.message
    assert "unknown lane_median" in refused.value.message

    outcome = version_activate_if_better(version=candidate)
    assert not outcome.activated
    previous.refresh_from_db()
    candidate.refresh_from_db()
    assert previous.is_active
    assert not candidate.is_active
    assert "feature schema does not match" in candidate.refused_reason


def test_artifact_with_untrusted_types_is_refused(merchant_a, trained) -> None:
    version = _register(merchant_a, trained, GOOD)
    EstimatorVersion.objects.filter(pk=version.pk).update(
        artifact=sio.dumps({"format": 1, "payload": Fraction(1, 3)})
    )
    version.refresh_from_db()
    with pytest.raises(ArtifactRefused) as refused:
        version_activate(version=version)
    assert refused.value.code == EstimateErrorCode.ARTIFACT_UNTRUSTED
    assert "fractions.Fraction" in refused.value.message


def test_a_version_that_does_not_beat_the_active_one_is_kept_inactive(merchant_a, trained) -> None:
    active = _register(merchant_a, trained, GOOD, datetime(2024, 4, 1, tzinfo=UTC))
    version_activate(version=active)
    worse = _register(merchant_a, trained, WORSE)
    outcome = version_activate_if_better(version=worse)
    assert not outcome.activated
    assert "kept" in outcome.reason
    assert EstimatorVersion.objects.get(is_active=True, merchant=merchant_a) == active


def test_activation_is_per_merchant(merchant_a, merchant_b, trained) -> None:
    version_activate(version=_register(merchant_a, trained, GOOD))
    other = _register(merchant_b, trained, WORSE)
    assert version_activate_if_better(version=other).activated
    assert EstimatorVersion.objects.filter(is_active=True).count() == 2


def test_artifact_round_trip_predicts_the_same(merchant_a, trained) -> None:
    from estimates.predicting import load_version

    version = _register(merchant_a, trained, GOOD)
    loaded = load_version(version)
    index = HistoryIndex(synthetic_history(n=240))
    from estimates.features import build_features

    query = index.history.iloc[[200]]
    features = build_features(index, query, stage="purchase", schema=trained.schema)
    assert (
        loaded.predict_days(features, query).p50 == trained.predict_days(features, query).p50
    ).all()
    assert len(artifact_dumps(trained)) > 1000
