"""Tier 1: a transit-time table per carrier/service and lane, counted in business days.

Rules come from the merchant's settings (TransitRule rows) or, where a merchant has none, are
derived from delivered history (`RulesTier.fit`): the business-day P10/P50/P90 of each lane.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from estimates.business_days import BusinessCalendar, calendar_for
from estimates.features import FeatureSchema, Stage, normalise_history

MIN_LANE_ORDERS = 5


@dataclass(frozen=True)
class TransitRuleSpec:
    """Business days on the way for one carrier/service and lane ("" matches anything)."""

    min_days: int
    typical_days: int
    max_days: int
    carrier_service: str = ""
    origin_country: str = ""
    origin_region: str = ""
    destination_country: str = ""
    destination_region: str = ""
    destination_postcode_prefix: str = ""
    handling_days: int = 0

    def matches(self, row: pd.Series) -> bool:
        checks = (
            (self.carrier_service, row["carrier_service"]),
            (self.origin_country, row["origin_country"]),
            (self.origin_region, row["origin_region"]),
            (self.destination_country, row["destination_country"]),
            (self.destination_region, row["destination_region"]),
        )
        if any(want and want != have for want, have in checks):
            return False
        prefix = self.destination_postcode_prefix
        return not prefix or str(row["destination_postcode"]).startswith(prefix)

    @property
    def specificity(self) -> int:
        fields = (
            self.carrier_service,
            self.origin_country,
            self.origin_region,
            self.destination_country,
            self.destination_region,
        )
        return sum(1 for f in fields if f) + 2 * len(self.destination_postcode_prefix)


def best_rule(rules: Sequence[TransitRuleSpec], row: pd.Series) -> TransitRuleSpec | None:
    """The most specific rule matching a shipment, or None."""
    matching = [rule for rule in rules if rule.matches(row)]
    return max(matching, key=lambda r: r.specificity) if matching else None


class RulesTier:
    """Predicts by adding a rule's business days (plus handling) to the prediction day."""

    name = "rules"

    def __init__(
        self,
        *,
        stage: Stage,
        rules: Sequence[TransitRuleSpec] = (),
        calendars: dict[str, BusinessCalendar] | None = None,
    ) -> None:
        self.stage = stage
        self.rules = list(rules)
        self.calendars = dict(calendars or {})

    def _calendar(self, country: str) -> BusinessCalendar:
        if country not in self.calendars:
            self.calendars[country] = calendar_for(country)
        return self.calendars[country]

    def _start(self, row: pd.Series) -> date:
        moment = row["purchased_at"] if self.stage == "purchase" else row["handed_over_at"]
        return pd.Timestamp(moment).date()

    def _numpy_calendar(self, country: str, days: pd.Series) -> np.busdaycalendar:
        known = days.dropna()
        first = int(known.min().year) - 1 if len(known) else 2000
        last = int(known.max().year) + 1 if len(known) else 2000
        return self._calendar(country).numpy_busdaycalendar(first, last)

    def fit(
        self,
        features: pd.DataFrame,
        queries: pd.DataFrame,
        y: np.ndarray,
        weight: np.ndarray,
        schema: FeatureSchema,
    ) -> None:
        """Derive a rule per lane, destination and overall from delivered history."""
        frame = normalise_history(queries)
        moment = frame["purchased_at"] if self.stage == "purchase" else frame["handed_over_at"]
        starts = moment.dt.floor("D") + pd.Timedelta(days=1)
        ends = frame["delivered_at"].dt.floor("D") + pd.Timedelta(days=1)
        business = np.zeros(len(frame))
        for country, rows in frame.groupby("destination_country").indices.items():
            # Business days in (start, end]: the working days the parcel spent on the way.
            business[rows] = np.busday_count(
                starts.iloc[rows].to_numpy(dtype="datetime64[D]"),
                ends.iloc[rows].to_numpy(dtype="datetime64[D]"),
                busdaycal=self._numpy_calendar(str(country), starts.iloc[rows]),
            )
        frame = frame.assign(business=business)
        rules: list[TransitRuleSpec] = []
        levels = (
            [
                "carrier_service",
                "origin_country",
                "origin_region",
                "destination_country",
                "destination_region",
            ],
            ["carrier_service", "destination_country", "destination_region"],
            ["carrier_service"],
        )
        for keys in levels:
            for values, group in frame.groupby(keys, sort=False):
                if len(group) < MIN_LANE_ORDERS and keys != levels[-1]:
                    continue
                low, mid, high = np.quantile(group["business"], [0.1, 0.5, 0.9])
                spec = dict(
                    zip(keys, values if isinstance(values, tuple) else (values,), strict=True)
                )
                rules.append(
                    TransitRuleSpec(
                        min_days=int(np.floor(low)),
                        typical_days=round(mid),
                        max_days=int(np.ceil(high)),
                        **spec,
                    )
                )
        self.rules = rules

    def predict(self, features: pd.DataFrame, queries: pd.DataFrame) -> np.ndarray:
        frame = normalise_history(queries)
        out = np.full((len(frame), 3), np.nan)
        for i, (_, row) in enumerate(frame.iterrows()):
            rule = best_rule(self.rules, row)
            if rule is None:
                continue
            calendar = self._calendar(row["destination_country"])
            start = self._start(row)
            shipped = calendar.add_business_days(start, rule.handling_days)
            for j, days in enumerate((rule.min_days, rule.typical_days, rule.max_days)):
                arrival = calendar.add_business_days(shipped, days) if days else shipped
                out[i, j] = (arrival - start).days
        return out
