"""manage.py train_estimator and the periodic task train from a merchant's delivered shipments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import numpy as np
import pytest
import time_machine
from django.core.management import CommandError, call_command

from estimates.models import EstimatorVersion
from estimates.tasks import estimators_train_all
from tests.factories import OrderFactory, ShipmentFactory

START = datetime(2024, 1, 8, 10, 0, tzinfo=UTC)
AS_OF = "2024-07-01T00:00:00+00:00"


@pytest.fixture
def delivered_history(merchant_a):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    for i in range(140):
        placed = START + timedelta(days=float(rng.uniform(0, 170)))
        west = i % 2 == 0
        order = OrderFactory(
            merchant=merchant_a,
            placed_at=placed,
            shipping_country="US",
            shipping_postcode="94110" if west else "10001",
        )
        days = (6.0 if west else 2.5) + float(rng.gamma(2.0, 0.7))
        ShipmentFactory(
            order=order,
            merchant=merchant_a,
            destination_region="CA" if west else "NY",
            destination_postcode=order.shipping_postcode,
            origin_country="US",
            origin_region="NJ",
            shipped_at=placed,
            status="delivered",
            delivered_at=placed + timedelta(days=days),
        )
    return merchant_a


@pytest.mark.django_db
def test_train_estimator_registers_and_activates_the_best_tier(delivered_history) -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "train_estimator",
        merchant="aurora",
        stage="purchase",
        tiers="rules,lane_stats,gbm",
        as_of=AS_OF,
        stdout=out,
        stderr=err,
    )
    version = EstimatorVersion.objects.get(merchant=delivered_history)
    assert version.is_active
    assert set(version.tier_metrics) == {"rules", "lane_stats", "gbm"}
    assert version.metrics["n"] > 20
    assert version.training_end == datetime(2024, 7, 1, tzinfo=UTC)
    assert "activated" in out.getvalue()
    assert "training" in err.getvalue()  # the tqdm progress bar

    # Same data again: not better than itself, so the first stays active.
    call_command(
        "train_estimator",
        merchant="aurora",
        stage="purchase",
        tiers="lane_stats",
        as_of="2024-07-01T00:00:01+00:00",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    assert EstimatorVersion.objects.filter(is_active=True).get() == version


@pytest.mark.django_db
def test_train_estimator_with_too_little_history_says_why(merchant_a) -> None:
    out = StringIO()
    call_command(
        "train_estimator",
        merchant="aurora",
        stage="purchase",
        as_of=AS_OF,
        stdout=out,
        stderr=StringIO(),
    )
    assert "training needs at least 30" in out.getvalue()
    assert not EstimatorVersion.objects.exists()


@pytest.mark.django_db
def test_train_estimator_rejects_unknown_tiers_and_naive_times(merchant_a) -> None:
    with pytest.raises(CommandError, match="Unknown tiers: magic"):
        call_command("train_estimator", tiers="magic", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="with a zone"):
        call_command(
            "train_estimator", as_of="2024-07-01T00:00", stdout=StringIO(), stderr=StringIO()
        )


@pytest.mark.django_db
@time_machine.travel(datetime(2024, 7, 1, tzinfo=UTC), tick=False)
def test_periodic_task_queues_training_for_merchants_with_deliveries(
    delivered_history,
) -> None:
    assert estimators_train_all.delay().get() == 1
    assert EstimatorVersion.objects.filter(merchant=delivered_history).count() >= 1


@pytest.mark.django_db
@time_machine.travel(datetime(2024, 7, 2, 16, 0, tzinfo=UTC), tick=False)
def test_new_shipments_are_estimated_by_the_active_trained_version(delivered_history) -> None:
    from estimates.services import shipment_estimate_refresh

    call_command(
        "train_estimator",
        merchant="aurora",
        stage="purchase",
        tiers="lane_stats",
        as_of=AS_OF,
        stdout=StringIO(),
        stderr=StringIO(),
    )
    version = EstimatorVersion.objects.get(is_active=True)
    placed = datetime(2024, 7, 2, 15, 0, tzinfo=UTC)
    order = OrderFactory(
        merchant=delivered_history,
        placed_at=placed,
        shipping_country="US",
        shipping_postcode="94110",
    )
    shipment = ShipmentFactory(
        order=order,
        merchant=delivered_history,
        destination_region="CA",
        destination_postcode="94110",
        origin_country="US",
        origin_region="NJ",
        shipped_at=placed,
    )
    estimate = shipment_estimate_refresh(shipment=shipment)
    assert estimate is not None
    shipment.refresh_from_db()
    assert shipment.estimate_model_version == version.version
    # The west-coast lane takes about a week in the history: the model says so too.
    assert 4 <= (shipment.estimate_central - placed.date()).days <= 10
    assert shipment.estimate_window_start <= shipment.estimate_central <= shipment.promise_date
