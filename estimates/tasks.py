"""Celery tasks of the estimates app: thin wrappers over the services."""

from __future__ import annotations

import logging

from django.conf import settings

from estimates.services import estimator_train, merchants_with_history
from postpurchase.errors import DomainError
from postpurchase.models import Merchant
from postpurchase.tasking import platform_task

logger = logging.getLogger(__name__)


@platform_task(name="estimates.estimators_train_all", soft_time_limit=60, time_limit=90)
def estimators_train_all() -> int:
    """Periodic: queue one training per merchant with recent deliveries."""
    ids = merchants_with_history(days=settings.ESTIMATES_TRAINING_DAYS)
    for merchant_id in ids:
        estimator_train_merchant.delay(merchant_id)
    return len(ids)


@platform_task(
    name="estimates.estimator_train", max_retries=0, soft_time_limit=1500, time_limit=1800
)
def estimator_train_merchant(merchant_id: int) -> list[str]:
    """Train both stages for one merchant; activation happens only for a better version.

    Idempotent in effect: a rerun registers another version, which is activated only if better.
    """
    merchant = Merchant.objects.get(pk=merchant_id)
    outcomes = []
    for stage in ("purchase", "handoff"):
        try:
            outcome = estimator_train(merchant=merchant, stage=stage)
        except DomainError as exc:
            logger.info("estimator for %s/%s not trained: %s", merchant.slug, stage, exc.message)
            outcomes.append(f"{stage}: {exc.message}")
            continue
        outcomes.append(f"{stage}: {outcome.version.version} {outcome.reason}")
    return outcomes
