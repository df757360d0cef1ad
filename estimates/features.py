"""Features known at prediction time, computed from a history of shipments without leakage.

Everything works on one table shape, the *shipment history frame* (one row per order or parcel,
`HISTORY_COLUMNS`): the Django app builds it from shipments, the benchmark from Olist's CSV files.
Statistics for a prediction at time t come from a *snapshot* taken at the start of t's day, which
only sees what was known before that instant: deliveries and hand-offs that had happened, and
in-flight orders as censored observations (see `estimates.survival`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from estimates.business_days import calendar_for
from estimates.survival import km_quantiles

Stage = Literal["purchase", "handoff"]

HISTORY_COLUMNS: dict[str, str] = {
    "order_id": "object",
    "purchased_at": "datetime64[ns]",  # local time of the order (warehouse zone), naive
    "handed_over_at": "datetime64[ns]",  # carrier hand-off, NaT while unknown
    "delivered_at": "datetime64[ns]",  # NaT while in flight
    "origin_country": "object",
    "origin_region": "object",
    "origin_postcode": "object",
    "destination_country": "object",
    "destination_region": "object",
    "destination_postcode": "object",
    "carrier_service": "object",
    "seller_id": "object",  # the warehouse or seller the parcel leaves from
    "category": "object",
    "weight_g": "float64",
    "volume_cm3": "float64",
    "n_items": "float64",
    "price": "float64",
    "freight_value": "float64",
}

QUANTILES = (0.1, 0.5, 0.9)
WINDOW_DAYS = 120  # history older than this does not enter a snapshot
HALF_LIFE_DAYS = 30.0  # recency weighting: an order 30 days old counts half
FAST_HALF_LIFE_DAYS = 7.0  # the "recent delay" signal reacts within days
MAX_DAYS = 90

CATEGORICAL = ("origin_region", "destination_region", "carrier_service", "category")
PURCHASE_FEATURES: tuple[str, ...] = (
    *CATEGORICAL,
    "same_region",
    "origin_postcode_num",
    "destination_postcode_num",
    "postcode_distance",
    "weekday",
    "hour",
    "day_of_year",
    "days_to_holiday",
    "business_days_next_14",
    "weight_g",
    "volume_cm3",
    "n_items",
    "price",
    "freight_value",
    "lane_p10",
    "lane_p50",
    "lane_p90",
    "lane_n",
    "dest_p50",
    "dest_p90",
    "dest_n",
    "origin_p50",
    "all_p50",
    "all_p90",
    "recent_p50",
    "recent_p90",
    "seller_handoff_p50",
    "seller_handoff_p90",
    "seller_handoff_n",
    "seller_orders_30d",
)
HANDOFF_FEATURES: tuple[str, ...] = (
    *PURCHASE_FEATURES,
    "handoff_days",
    "handoff_weekday",
    "transit_lane_p10",
    "transit_lane_p50",
    "transit_lane_p90",
    "transit_lane_n",
    "transit_dest_p50",
    "transit_recent_p50",
)


@dataclass(frozen=True)
class FeatureSchema:
    """The ordered feature names and category vocabularies a model was trained with."""

    stage: Stage
    names: tuple[str, ...]
    vocabularies: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """A short hash of names and order: two schemas match only when this matches."""
        body = json.dumps({"stage": self.stage, "names": list(self.names)})
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "names": list(self.names),
            "vocabularies": {k: list(v) for k, v in self.vocabularies.items()},
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> FeatureSchema:
        vocab = data.get("vocabularies") or {}
        assert isinstance(vocab, dict)
        names = data["names"]
        assert isinstance(names, list)
        stage = data["stage"]
        assert stage in ("purchase", "handoff")
        return cls(
            stage=stage,
            names=tuple(str(n) for n in names),
            vocabularies={str(k): tuple(v) for k, v in vocab.items()},
        )


def feature_names(stage: Stage) -> tuple[str, ...]:
    return PURCHASE_FEATURES if stage == "purchase" else HANDOFF_FEATURES


def empty_history() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in HISTORY_COLUMNS.items()})


def normalise_history(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill missing optional columns and coerce types, so every source gives the same frame."""
    out = frame.copy()
    for column, dtype in HISTORY_COLUMNS.items():
        if column not in out:
            out[column] = pd.NaT if dtype.startswith("datetime") else np.nan
        if dtype.startswith("datetime"):
            out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
        elif dtype == "float64":
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
        else:
            out[column] = out[column].fillna("").astype(str)
    return out.reset_index(drop=True)


def _day_number(values: pd.Series) -> np.ndarray:
    """Whole days since the epoch of a datetime column (NaT -> a very large number)."""
    days = values.dt.floor("D").to_numpy(dtype="datetime64[D]").astype("int64")
    return np.where(values.isna().to_numpy(), np.iinfo(np.int64).max // 4, days)


@dataclass
class _GroupLevel:
    name: str
    codes: np.ndarray  # per history row
    lookup: dict[str, int]


class HistoryIndex:
    """A history frame prepared for as-of snapshots (sorted day numbers and group codes)."""

    LEVELS = ("lane", "dest", "origin", "all", "seller")

    def __init__(self, history: pd.DataFrame) -> None:
        self.history = normalise_history(history)
        h = self.history
        self.purchase_day = _day_number(h["purchased_at"])
        self.handoff_day = _day_number(h["handed_over_at"])
        self.delivery_day = _day_number(h["delivered_at"])
        self.levels: dict[str, _GroupLevel] = {}
        for name, keys in self._level_keys(h).items():
            codes, uniques = pd.factorize(keys)
            self.levels[name] = _GroupLevel(
                name, codes.astype(np.int64), {k: i for i, k in enumerate(uniques)}
            )

    @staticmethod
    def _level_keys(frame: pd.DataFrame) -> dict[str, pd.Series]:
        origin = frame["origin_country"] + ":" + frame["origin_region"]
        dest = frame["destination_country"] + ":" + frame["destination_region"]
        service = frame["carrier_service"]
        return {
            "lane": service + "|" + origin + ">" + dest,
            "dest": service + "|" + dest,
            "origin": service + "|" + origin,
            "all": pd.Series(["*"] * len(frame), index=frame.index, dtype=object),
            "seller": frame["seller_id"],
        }

    def query_codes(self, queries: pd.DataFrame) -> dict[str, np.ndarray]:
        """Group codes of query rows (-1 for a group the history never saw)."""
        keys = self._level_keys(normalise_history(queries))
        return {
            name: np.array([self.levels[name].lookup.get(k, -1) for k in keys[name]], dtype=int)
            for name in self.LEVELS
        }


def _weights(age: np.ndarray, half_life: float) -> np.ndarray:
    return np.power(0.5, age / half_life)


def _stats_for_day(
    index: HistoryIndex, day: int, codes: dict[str, np.ndarray], rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Statistics over what was known at the start of `day`, for query rows `rows`."""
    in_window = (index.purchase_day < day) & (index.purchase_day >= day - WINDOW_DAYS)
    sel = np.flatnonzero(in_window)
    age = (day - index.purchase_day[sel]).astype(np.int64)
    delivered = index.delivery_day[sel] < day
    delivery_days = np.where(delivered, index.delivery_day[sel] - index.purchase_day[sel], age)
    handed = index.handoff_day[sel] < day
    handoff_days = np.where(handed, index.handoff_day[sel] - index.purchase_day[sel], age)
    slow_w = _weights(age.astype(float), HALF_LIFE_DAYS)
    fast_w = _weights(age.astype(float), FAST_HALF_LIFE_DAYS)
    out: dict[str, np.ndarray] = {}

    def level(
        name: str,
        duration: np.ndarray,
        observed: np.ndarray,
        weight: np.ndarray,
        subset: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        lvl = index.levels[name]
        group = lvl.codes[sel] if subset is None else lvl.codes[sel][subset]
        q, n = km_quantiles(
            group=group,
            n_groups=len(lvl.lookup),
            duration=duration.astype(np.int64),
            observed=observed,
            weight=weight,
            quantiles=QUANTILES,
            max_days=MAX_DAYS,
        )
        query = codes[name][rows]
        found = query >= 0
        qv = np.full((len(rows), len(QUANTILES)), np.nan)
        nv = np.zeros(len(rows))
        qv[found] = q[query[found]]
        nv[found] = n[query[found]]
        return qv, nv

    q, n = level("lane", delivery_days, delivered, slow_w)
    out.update(lane_p10=q[:, 0], lane_p50=q[:, 1], lane_p90=q[:, 2], lane_n=n)
    q, n = level("dest", delivery_days, delivered, slow_w)
    out.update(dest_p50=q[:, 1], dest_p90=q[:, 2], dest_n=n)
    q, _ = level("origin", delivery_days, delivered, slow_w)
    out.update(origin_p50=q[:, 1])
    q, _ = level("all", delivery_days, delivered, slow_w)
    out.update(all_p50=q[:, 1], all_p90=q[:, 2])
    q, _ = level("all", delivery_days, delivered, fast_w)
    out.update(recent_p50=q[:, 1], recent_p90=q[:, 2])
    q, n = level("seller", handoff_days, handed, slow_w)
    out.update(seller_handoff_p50=q[:, 1], seller_handoff_p90=q[:, 2], seller_handoff_n=n)
    recent = age <= 30
    seller_codes = index.levels["seller"].codes[sel][recent]
    # One spare slot at the end: an unknown seller (code -1) reads it as zero orders.
    counts = np.bincount(seller_codes, minlength=len(index.levels["seller"].lookup) + 1)
    out["seller_orders_30d"] = counts[codes["seller"][rows]].astype(float)

    # Transit after hand-off: parcels handed over before `day`, censored while in flight.
    moving = handed
    transit_age = (day - index.handoff_day[sel][moving]).astype(np.int64)
    transit_done = delivered[moving]
    transit_days = np.where(
        transit_done, index.delivery_day[sel][moving] - index.handoff_day[sel][moving], transit_age
    )
    tw = _weights(age[moving].astype(float), HALF_LIFE_DAYS)
    q, n = level("lane", transit_days, transit_done, tw, moving)
    out.update(
        transit_lane_p10=q[:, 0],
        transit_lane_p50=q[:, 1],
        transit_lane_p90=q[:, 2],
        transit_lane_n=n,
    )
    q, _ = level("dest", transit_days, transit_done, tw, moving)
    out.update(transit_dest_p50=q[:, 1])
    q, _ = level(
        "all",
        transit_days,
        transit_done,
        _weights(age[moving].astype(float), FAST_HALF_LIFE_DAYS),
        moving,
    )
    out.update(transit_recent_p50=q[:, 1])
    return out


def _postcode_number(values: pd.Series) -> np.ndarray:
    digits = values.str.replace(r"\D", "", regex=True).str[:3]
    return pd.to_numeric(digits, errors="coerce").to_numpy(dtype=float)


def _calendar_features(frame: pd.DataFrame) -> pd.DataFrame:
    purchased = frame["purchased_at"]
    out = pd.DataFrame(index=frame.index)
    out["weekday"] = purchased.dt.day_of_week.astype(float)
    out["hour"] = (purchased.dt.hour + purchased.dt.minute / 60.0).astype(float)
    out["day_of_year"] = purchased.dt.day_of_year.astype(float)
    to_holiday = np.zeros(len(frame))
    next_14 = np.zeros(len(frame))
    cache: dict[tuple[str, date], tuple[int, int]] = {}
    for i, (country, when) in enumerate(zip(frame["destination_country"], purchased, strict=True)):
        day = when.date()
        key = (country, day)
        if key not in cache:
            calendar = calendar_for(country or "")
            ahead = sum(calendar.is_business_day(day + timedelta(days=k)) for k in range(1, 15))
            cache[key] = (calendar.days_to_next_holiday(day), ahead)
        to_holiday[i], next_14[i] = cache[key]
    out["days_to_holiday"] = to_holiday
    out["business_days_next_14"] = next_14
    return out


def build_features(
    index: HistoryIndex, queries: pd.DataFrame, *, stage: Stage, schema: FeatureSchema
) -> pd.DataFrame:
    """Feature rows for `queries`, each as of the start of its prediction day.

    The prediction moment is the purchase (stage "purchase") or the carrier hand-off ("handoff");
    the statistics use only the history known before that day began.
    """
    frame = normalise_history(queries)
    moment = frame["purchased_at"] if stage == "purchase" else frame["handed_over_at"]
    if moment.isna().any():
        raise ValueError(
            f"every query needs a {'purchase' if stage == 'purchase' else 'hand-off'}"
            " time for this stage"
        )
    as_of = _day_number(moment)
    codes = index.query_codes(frame)
    stats: dict[str, np.ndarray] = {}
    for day in np.unique(as_of):
        rows = np.flatnonzero(as_of == day)
        for name, values in _stats_for_day(index, int(day), codes, rows).items():
            stats.setdefault(name, np.full(len(frame), np.nan))[rows] = values
    out = pd.DataFrame(stats, index=frame.index)
    out = pd.concat([out, _calendar_features(frame)], axis=1)
    out["same_region"] = (
        (frame["origin_region"] == frame["destination_region"])
        & (frame["origin_country"] == frame["destination_country"])
    ).astype(float)
    out["origin_postcode_num"] = _postcode_number(frame["origin_postcode"])
    out["destination_postcode_num"] = _postcode_number(frame["destination_postcode"])
    out["postcode_distance"] = np.abs(out["origin_postcode_num"] - out["destination_postcode_num"])
    for column in ("weight_g", "volume_cm3", "n_items", "price", "freight_value"):
        out[column] = frame[column]
    for column in CATEGORICAL:
        vocabulary = schema.vocabularies.get(column, ())
        lookup = {v: float(i) for i, v in enumerate(vocabulary)}
        out[column] = frame[column].map(lambda v, lk=lookup: lk.get(v, np.nan)).astype(float)
    if stage == "handoff":
        delta = frame["handed_over_at"] - frame["purchased_at"]
        out["handoff_days"] = delta.dt.total_seconds() / 86400.0
        out["handoff_weekday"] = frame["handed_over_at"].dt.day_of_week.astype(float)
    return out.loc[:, list(schema.names)]


def schema_for(history: pd.DataFrame, *, stage: Stage, max_categories: int = 200) -> FeatureSchema:
    """The schema for a model trained on `history`: names and the most common category values."""
    frame = normalise_history(history)
    vocabularies: dict[str, tuple[str, ...]] = {}
    for column in CATEGORICAL:
        counts = frame[column].value_counts()
        vocabularies[column] = tuple(str(v) for v in counts.index[:max_categories])
    return FeatureSchema(stage=stage, names=feature_names(stage), vocabularies=vocabularies)


def targets(frame: pd.DataFrame, *, stage: Stage) -> np.ndarray:
    """Whole days from the prediction day to the delivery day (NaN while not delivered)."""
    start = frame["purchased_at"] if stage == "purchase" else frame["handed_over_at"]
    delta = frame["delivered_at"].dt.floor("D") - start.dt.floor("D")
    return (delta.dt.days).to_numpy(dtype=float)


def categorical_mask(names: Sequence[str]) -> list[bool]:
    return [name in CATEGORICAL for name in names]
