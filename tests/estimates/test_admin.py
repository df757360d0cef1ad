"""Console: estimator versions with metrics and a server-rendered calibration plot, per tenant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from estimates.models import EstimatorVersion
from postpurchase.models import MerchantMembership, MerchantRole


def _version(merchant, name: str) -> EstimatorVersion:  # type: ignore[no-untyped-def]
    return EstimatorVersion.objects.create(
        merchant=merchant,
        version=name,
        stage="purchase",
        tier="gbm",
        schema_fingerprint="abc",
        training_end=datetime(2024, 5, 1, tzinfo=UTC),
        metrics={
            "mae_p50_days": 3.21,
            "promise_on_time": 0.912,
            "promise_padding_days": 4.5,
            "p10_p90_coverage": 0.8,
            "p10_p90_width_days": 6.0,
            "n": 120,
        },
        tier_metrics={
            "gbm": {"mae_p50_days": 3.21, "n": 120},
            "rules": {"mae_p50_days": 4.75, "n": 120},
        },
        calibration={"reliability": [[0.1, 0.12], [0.5, 0.52], [0.9, 0.88]]},
        artifact=b"",
        artifact_sha256="0" * 64,
    )


@pytest.fixture
def owner_client(client, merchant_a):  # type: ignore[no-untyped-def]
    user = User.objects.create_user("olivia", "o@example.com", "pw", is_staff=True)
    MerchantMembership.objects.create(merchant=merchant_a, user=user, role=MerchantRole.OWNER)
    client.force_login(user)
    return client


def test_version_page_shows_metrics_and_an_inline_svg_calibration_plot(
    owner_client, merchant_a
) -> None:
    version = _version(merchant_a, "purchase-gbm-1")
    page = owner_client.get(f"/console/estimates/estimatorversion/{version.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    assert html.count("<circle") == 3
    assert "4.75 d" in html  # the rules tier's backtest beside the chosen one
    assert '<script src="http' not in html


def test_version_list_shows_only_own_merchants_versions(
    owner_client, merchant_a, merchant_b
) -> None:
    _version(merchant_a, "purchase-gbm-mine")
    theirs = _version(merchant_b, "purchase-gbm-theirs")
    listing = owner_client.get("/console/estimates/estimatorversion/")
    assert listing.status_code == 200
    assert "purchase-gbm-mine" in listing.content.decode()
    assert "purchase-gbm-theirs" not in listing.content.decode()
    other = owner_client.get(f"/console/estimates/estimatorversion/{theirs.pk}/change/")
    assert other.status_code == 404
