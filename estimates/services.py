"""Writes of the estimates app: refreshing a shipment's estimate (and announcing slips), answering
pre-purchase questions, training and activating estimator versions."""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from commerce.models import Product
from estimates import predicting
from estimates.errors import EstimateErrorCode
from estimates.features import HistoryIndex, Stage, normalise_history, schema_for
from estimates.models import EstimatorVersion, GiftDate, ShipmentDelay, Warehouse
from estimates.predicting import Estimate
from estimates.registry import (
    ArtifactRefused,
    StoredEstimator,
    artifact_dumps,
    artifact_loads,
    artifact_sha256,
    library_versions,
)
from estimates.selectors import (
    carrier_service_key,
    gift_dates_upcoming,
    history_since,
    shipment_handoff_at,
    shipment_history_frame,
    shipment_record,
    transit_rule_specs,
)
from estimates.tiers.rules import TransitRuleSpec
from estimates.training import TIER_NAMES, TrainedEstimator, select_tier, tier_score, train
from postpurchase import outbox
from postpurchase.errors import DomainError
from postpurchase.models import Merchant
from tracking.domain import ShipmentStatus
from tracking.models import Shipment
from tracking.services import shipment_estimate_record

logger = logging.getLogger(__name__)

FINISHED = {
    ShipmentStatus.DELIVERED,
    ShipmentStatus.CANCELLED,
    ShipmentStatus.RETURNED_TO_SENDER,
    ShipmentStatus.RETURNING_TO_SENDER,
}
MIN_TRAINING_SHIPMENTS = 30


# --- Shipments ---------------------------------------------------------------------------------


def _shipment_query(shipment: Shipment, handoff: datetime | None) -> pd.DataFrame:
    zone = zoneinfo.ZoneInfo(shipment.merchant.time_zone)
    record = shipment_record(shipment, handoff, None, zone)
    record["delivered_at"] = None  # the outcome is what we predict
    return normalise_history(pd.DataFrame.from_records([record]))


@transaction.atomic
def shipment_estimate_refresh(*, shipment: Shipment) -> Estimate | None:
    """Re-estimate a shipment and store it; announce `shipment.delayed` once per slip.

    A slip is a new central date past the promise the shopper had: the event carries the old and
    the new promise. Delivered, cancelled and returning shipments are left as they are.
    """
    if shipment.status in FINISHED:
        return None
    handoff = shipment_handoff_at(shipment=shipment)
    stage: Stage = "handoff" if handoff is not None else "purchase"
    query = _shipment_query(shipment, handoff)
    placed = shipment.order.placed_at
    ship_date = timezone.localtime(
        handoff or shipment.shipped_at or placed, zoneinfo.ZoneInfo(shipment.merchant.time_zone)
    ).date()
    result = predicting.estimate(
        merchant=shipment.merchant,
        query=query,
        stage=stage,
        ship_date=ship_date,
        carrier=shipment.carrier,
    )
    change = shipment_estimate_record(
        shipment=shipment,
        window_start=result.window_start,
        window_end=result.window_end,
        central=result.central,
        promise=result.promise,
        model_version=result.model_version,
        confidence=result.confidence,
    )
    old_promise = change.old_promise
    if old_promise is not None and result.central > old_promise:
        _delay_announce(
            shipment=shipment,
            old_promise=old_promise,
            estimate=result,
            first_promise=change.first_promise,
        )
    return result


def _delay_announce(
    *, shipment: Shipment, old_promise: date, estimate: Estimate, first_promise: date
) -> None:
    try:
        with transaction.atomic():
            ShipmentDelay.objects.create(
                merchant=shipment.merchant,
                shipment=shipment,
                old_promise=old_promise,
                new_promise=estimate.promise,
                new_central=estimate.central,
            )
    except IntegrityError:  # this slip was announced already
        return
    outbox.publish(
        merchant=shipment.merchant,
        type="shipment.delayed",
        subject=f"shipment:{shipment.pk}",
        data={
            "shipment_id": shipment.pk,
            "public_id": shipment.public_id,
            "order_id": shipment.order_id,
            "old_promise": old_promise.isoformat(),
            "new_promise": estimate.promise.isoformat(),
            "new_central": estimate.central.isoformat(),
            "first_promise": first_promise.isoformat(),
            "slipped_days": (estimate.promise - old_promise).days,
            "model_version": estimate.model_version,
        },
    )


# --- Before purchase ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GiftDeadline:
    name: str
    date: date
    order_by: datetime | None  # the last moment an order still arrives by the gift date


@dataclass(frozen=True)
class PrePurchaseEstimate:
    estimate: Estimate
    requested_at: datetime
    cutoff_at: datetime  # order before this for `estimate`
    after_cutoff: Estimate  # what an order just after the cut-off gets
    warehouse: Warehouse | None
    gift_deadlines: list[GiftDeadline]

    @property
    def time_left(self) -> timedelta:
        return max(self.cutoff_at - self.requested_at, timedelta(0))


@dataclass(frozen=True)
class CartInput:
    destination_country: str
    destination_postcode: str
    carrier: str
    service: str = ""
    destination_region: str = ""
    warehouse: Warehouse | None = None
    product: Product | None = None


def _cart_estimate(
    *, merchant: Merchant, cart: CartInput, ordered_at: datetime
) -> tuple[Estimate, datetime]:
    warehouse = cart.warehouse
    ship_date, cutoff_at = predicting.ship_date_for(warehouse=warehouse, ordered_at=ordered_at)
    zone = zoneinfo.ZoneInfo(warehouse.time_zone if warehouse else merchant.time_zone)
    record = {
        "order_id": "cart",
        "purchased_at": timezone.localtime(ordered_at, zone).replace(tzinfo=None),
        "origin_country": warehouse.country if warehouse else merchant.country,
        "origin_region": warehouse.region if warehouse else "",
        "origin_postcode": warehouse.postcode if warehouse else "",
        "destination_country": cart.destination_country,
        "destination_region": cart.destination_region,
        "destination_postcode": cart.destination_postcode,
        "carrier_service": carrier_service_key(cart.carrier, cart.service),
        "seller_id": f"{warehouse.country}:{warehouse.postcode}" if warehouse else "",
        "category": cart.product.category if cart.product else "",
        "n_items": 1,
        "price": float(cart.product.price) if cart.product else None,
    }
    query = normalise_history(pd.DataFrame.from_records([record]))
    result = predicting.estimate(
        merchant=merchant, query=query, stage="purchase", ship_date=ship_date, carrier=cart.carrier
    )
    return result, cutoff_at


def _order_by(
    *, merchant: Merchant, cart: CartInput, gift: GiftDate, now: datetime
) -> datetime | None:
    """The latest cut-off moment whose promise still falls on or before the gift date."""
    days = (gift.date - timezone.localdate(now)).days
    if days < 0:
        return None
    best: datetime | None = None
    low, high = 0, days
    while low <= high:  # the promise never moves earlier for a later order day
        middle = (low + high) // 2
        moment = now if middle == 0 else now + timedelta(days=middle)
        result, cutoff_at = _cart_estimate(merchant=merchant, cart=cart, ordered_at=moment)
        if result.promise <= gift.date:
            best = max(cutoff_at, now) if best is None else max(best, cutoff_at)
            low = middle + 1
        else:
            high = middle - 1
    return best


def prepurchase_estimate(
    *, merchant: Merchant, cart: CartInput, requested_at: datetime | None = None
) -> PrePurchaseEstimate:
    """Window, promise, cut-off countdown and gift-date deadlines for a cart."""
    now = requested_at or timezone.now()
    if cart.warehouse is None:
        raise DomainError(
            EstimateErrorCode.NO_WAREHOUSE,
            "Set up a warehouse first: its time zone and cut-off decide the ship date.",
            field="warehouse",
        )
    result, cutoff_at = _cart_estimate(merchant=merchant, cart=cart, ordered_at=now)
    later, _ = _cart_estimate(
        merchant=merchant, cart=cart, ordered_at=max(cutoff_at, now) + timedelta(minutes=1)
    )
    deadlines = [
        GiftDeadline(
            name=gift.name,
            date=gift.date,
            order_by=_order_by(merchant=merchant, cart=cart, gift=gift, now=now),
        )
        for gift in gift_dates_upcoming(merchant=merchant, today=timezone.localdate(now))
    ]
    return PrePurchaseEstimate(
        estimate=result,
        requested_at=now,
        cutoff_at=cutoff_at,
        after_cutoff=later,
        warehouse=cart.warehouse,
        gift_deadlines=deadlines,
    )


# --- Training and the registry -----------------------------------------------------------------


@dataclass(frozen=True)
class TrainingOutcome:
    version: EstimatorVersion
    activated: bool
    reason: str


def _version_name(stage: str, tier: str, as_of: datetime) -> str:
    return f"{stage}-{tier}-{as_of:%Y%m%d%H%M%S}"


def _write_artifact_file(name: str, merchant: Merchant, data: bytes) -> str:
    folder = settings.ESTIMATES_ARTIFACT_DIR
    if not folder:
        return ""
    path = Path(folder) / merchant.slug / f"{name}.skops"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def estimator_train(
    *,
    merchant: Merchant,
    stage: Stage,
    as_of: datetime | None = None,
    tiers: Sequence[str] = TIER_NAMES,
    progress: Callable[[str], None] | None = None,
) -> TrainingOutcome:
    """Backtest every tier on the recent past, train the best on everything known, register it,
    and activate it when it beats the active version."""
    as_of = as_of or timezone.now()
    history = shipment_history_frame(
        merchant=merchant, since=as_of - timedelta(days=settings.ESTIMATES_TRAINING_DAYS)
    )
    zone = zoneinfo.ZoneInfo(merchant.time_zone)
    cutoff = pd.Timestamp(timezone.localtime(as_of, zone).replace(tzinfo=None))
    history = history[history["purchased_at"] < cutoff].reset_index(drop=True)
    history.loc[history["delivered_at"] >= cutoff, "delivered_at"] = pd.NaT
    history.loc[history["handed_over_at"] >= cutoff, "handed_over_at"] = pd.NaT
    delivered = int(history["delivered_at"].notna().sum())
    if delivered < MIN_TRAINING_SHIPMENTS:
        raise DomainError(
            EstimateErrorCode.NOT_ENOUGH_HISTORY,
            f"{delivered} delivered shipments known; training needs at least "
            f"{MIN_TRAINING_SHIPMENTS}. Transit rules estimate until then.",
        )
    index = HistoryIndex(history)
    rules = transit_rule_specs(merchant=merchant)
    target = settings.ESTIMATES_ON_TIME_TARGET
    try:
        best, tier_metrics = select_tier(
            history,
            stage=stage,
            as_of=cutoff,
            tiers=tiers,
            rules=rules,
            on_time_target=target,
            progress=progress,
        )
    except ValueError as exc:
        raise DomainError(EstimateErrorCode.NOT_ENOUGH_HISTORY, f"Cannot measure: {exc}.") from exc
    if progress:
        progress(f"training {best}")
    try:
        estimator = _train_final(index, best, stage, cutoff, history, rules, target)
    except ValueError as exc:
        raise DomainError(EstimateErrorCode.NOT_ENOUGH_HISTORY, str(exc)) from exc
    version = version_register(
        merchant=merchant,
        estimator=estimator,
        metrics=tier_metrics.get(best, {}),
        tier_metrics=tier_metrics,
        as_of=as_of,
    )
    return version_activate_if_better(version=version)


def _train_final(
    index: HistoryIndex,
    tier: str,
    stage: Stage,
    cutoff: pd.Timestamp,
    history: pd.DataFrame,
    rules: Sequence[TransitRuleSpec],
    target: float,
) -> TrainedEstimator:
    return train(
        index,
        tier_name=tier,
        stage=stage,
        as_of=cutoff,
        schema=schema_for(history, stage=stage),
        rules=rules,
        on_time_target=target,
    )


@transaction.atomic
def version_register(
    *,
    merchant: Merchant,
    estimator: TrainedEstimator,
    metrics: dict[str, float],
    tier_metrics: dict[str, dict[str, float]],
    as_of: datetime,
) -> EstimatorVersion:
    """Store a trained estimator (inactive) with its artifact, schema and measurements."""
    data = artifact_dumps(estimator)
    name = _version_name(estimator.stage, estimator.tier.name, as_of)
    start = estimator.training_start
    return EstimatorVersion.objects.create(
        merchant=merchant,
        version=name,
        stage=estimator.stage,
        tier=estimator.tier.name,
        feature_schema=estimator.schema.to_json(),
        schema_fingerprint=estimator.schema.fingerprint,
        library_versions=library_versions(),
        training_start=(
            timezone.make_aware(
                start.floor("s").to_pydatetime(), zoneinfo.ZoneInfo(merchant.time_zone)
            )
            if start is not None and not pd.isna(start)
            else None
        ),
        training_end=as_of,
        n_train=estimator.n_train,
        metrics=metrics,
        tier_metrics=tier_metrics,
        calibration=estimator.calibration.to_json(),
        artifact=data,
        artifact_sha256=artifact_sha256(data),
        artifact_path=_write_artifact_file(name, merchant, data),
    )


def _verify(version: EstimatorVersion) -> None:
    artifact_loads(
        bytes(version.artifact),
        expected=StoredEstimator(
            stage=version.stage,  # type: ignore[arg-type]
            schema=predicting.FeatureSchema.from_json(version.feature_schema),
            calibration=predicting.Calibration.from_json(version.calibration),
            as_of=pd.Timestamp(version.training_end),
        ),
    )


@transaction.atomic
def version_activate(*, version: EstimatorVersion) -> EstimatorVersion:
    """Make a version the active one of its stage, after its artifact loads and matches the
    schema. A refused artifact raises `ArtifactRefused`; the active version stays active."""
    locked = EstimatorVersion.objects.select_for_update().get(pk=version.pk)
    _verify(locked)
    EstimatorVersion.objects.filter(
        merchant_id=locked.merchant_id, stage=locked.stage, is_active=True
    ).exclude(pk=locked.pk).update(is_active=False)
    locked.is_active = True
    locked.activated_at = timezone.now()
    locked.refused_reason = ""
    locked.save(update_fields=["is_active", "activated_at", "refused_reason"])
    return locked


def version_activate_if_better(*, version: EstimatorVersion) -> TrainingOutcome:
    """Activate `version` only when its backtest beats the active version's."""
    active = (
        EstimatorVersion.objects.for_merchant(version.merchant)
        .filter(stage=version.stage, is_active=True)
        .exclude(pk=version.pk)
        .first()
    )
    target = settings.ESTIMATES_ON_TIME_TARGET
    if active is not None and active.metrics:
        new_score = tier_score(version.metrics, on_time_target=target)
        old_score = tier_score(active.metrics, on_time_target=target)
        if new_score >= old_score:
            reason = (
                f"kept {active.version}: its score {old_score:.2f} is not beaten by {new_score:.2f}"
            )
            EstimatorVersion.objects.filter(pk=version.pk).update(refused_reason=reason)
            return TrainingOutcome(version=version, activated=False, reason=reason)
    try:
        activated = version_activate(version=version)
    except ArtifactRefused as exc:
        EstimatorVersion.objects.filter(pk=version.pk).update(refused_reason=exc.message)
        return TrainingOutcome(version=version, activated=False, reason=exc.message)
    return TrainingOutcome(version=activated, activated=True, reason="activated")


def merchants_with_history(*, days: int) -> list[int]:
    """Merchants with delivered shipments in the last `days` (the periodic training's batch)."""
    since = history_since(days=days)
    return list(
        Shipment.objects.filter(delivered_at__gte=since)
        .values_list("merchant_id", flat=True)
        .distinct()
        .order_by("merchant_id")
    )
