"""Business-day arithmetic: weekends, national holidays (the `holidays` package) and a carrier's
own non-working days, plus the warehouse cut-off that decides the day an order leaves.

Pure functions over dates; nothing here touches the database.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays
import numpy as np

MONDAY_TO_FRIDAY = frozenset({0, 1, 2, 3, 4})
# Holiday categories carriers observe beyond the public ones, per country: in Brazil Carnival
# Monday and Tuesday (and Ash Wednesday morning) are "optional" days the post and carriers close.
OBSERVED_CATEGORIES: dict[str, tuple[str, ...]] = {"BR": ("public", "optional")}


@lru_cache(maxsize=256)
def _national_holidays(
    country: str, subdivision: str, year: int, categories: tuple[str, ...]
) -> frozenset[date]:
    try:
        calendar = holidays.country_holidays(
            country, subdiv=subdivision or None, years=year, categories=categories
        )
    except NotImplementedError:  # a country the package does not know: weekends only
        return frozenset()
    return frozenset(calendar.keys())


def holiday_calendar_supported(country: str, subdivision: str = "") -> bool:
    """True when the `holidays` package has a calendar for the country (and subdivision)."""
    try:
        holidays.country_holidays(country, subdiv=subdivision or None, years=2000)
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class BusinessCalendar:
    """The days a carrier (or warehouse) works: weekdays minus holidays and closures."""

    country: str = ""
    subdivision: str = ""
    working_weekdays: frozenset[int] = MONDAY_TO_FRIDAY
    closed_dates: frozenset[date] = field(default_factory=frozenset)

    def is_holiday(self, day: date) -> bool:
        if day in self.closed_dates:
            return True
        if not self.country:
            return False
        categories = OBSERVED_CATEGORIES.get(self.country, ("public",))
        return day in _national_holidays(self.country, self.subdivision, day.year, categories)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.working_weekdays and not self.is_holiday(day)

    def next_business_day(self, day: date, *, inclusive: bool = True) -> date:
        """The first business day on or after `day` (strictly after when not inclusive)."""
        current = day if inclusive else day + timedelta(days=1)
        for _ in range(400):
            if self.is_business_day(current):
                return current
            current += timedelta(days=1)
        raise ValueError("the calendar has no business day within 400 days")

    def add_business_days(self, start: date, days: int) -> date:
        """The date `days` business days after `start` (0 = `start` itself if it is one)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = self.next_business_day(start)
        for _ in range(days):
            current = self.next_business_day(current, inclusive=False)
        return current

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in (start, end]: how many working days the parcel spent on the way."""
        if end <= start:
            return 0
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_business_day(start + timedelta(days=offset))
        )

    def holidays_between(self, start: date, end: date) -> list[date]:
        """Non-weekend closed days in [start, end]."""
        return [
            start + timedelta(days=offset)
            for offset in range((end - start).days + 1)
            if self.is_holiday(start + timedelta(days=offset))
        ]

    def numpy_busdaycalendar(self, first_year: int, last_year: int) -> np.busdaycalendar:
        """The same calendar for numpy's vectorised business-day functions."""
        closed = set(self.closed_dates)
        if self.country:
            categories = OBSERVED_CATEGORIES.get(self.country, ("public",))
            for year in range(first_year, last_year + 1):
                closed |= _national_holidays(self.country, self.subdivision, year, categories)
        weekmask = [1 if d in self.working_weekdays else 0 for d in range(7)]
        return np.busdaycalendar(weekmask=weekmask, holidays=sorted(closed))

    def days_to_next_holiday(self, day: date, *, horizon: int = 120) -> int:
        """Calendar days until the next holiday (or `horizon` when none comes sooner)."""
        for offset in range(horizon):
            if self.is_holiday(day + timedelta(days=offset)):
                return offset
        return horizon


def calendar_for(
    country: str,
    *,
    subdivision: str = "",
    working_weekdays: Iterable[int] = MONDAY_TO_FRIDAY,
    closed_dates: Iterable[date] = (),
) -> BusinessCalendar:
    """A calendar for one country, with extra closed dates (a carrier's own non-working days)."""
    return BusinessCalendar(
        country=country.upper(),
        subdivision=subdivision,
        working_weekdays=frozenset(working_weekdays),
        closed_dates=frozenset(closed_dates),
    )


@dataclass(frozen=True)
class Dispatch:
    """When an order placed at a given moment leaves the warehouse, and until when that holds."""

    ship_date: date
    cutoff_at: datetime  # aware: the last moment that still makes `ship_date`
    before_cutoff: bool


def dispatch_for_order(
    *,
    ordered_at: datetime,
    time_zone: str,
    cutoff: time,
    handling_days: int,
    calendar: BusinessCalendar,
) -> Dispatch:
    """The ship date of an order placed at `ordered_at`, judged in the warehouse's time zone.

    An order placed on a working day before the cut-off starts handling that day; after it (or on
    a closed day) it starts on the next working day. Handling then takes `handling_days`.
    """
    if ordered_at.tzinfo is None:
        raise ValueError("ordered_at must be an aware datetime")
    zone = zoneinfo.ZoneInfo(time_zone)
    local = ordered_at.astimezone(zone)
    today = local.date()
    before = calendar.is_business_day(today) and local.time() < cutoff
    start = today if before else calendar.next_business_day(today, inclusive=False)
    ship_date = calendar.add_business_days(start, handling_days)
    cutoff_at = datetime.combine(start, cutoff, tzinfo=zone)
    return Dispatch(ship_date=ship_date, cutoff_at=cutoff_at, before_cutoff=before)


def format_countdown(delta: timedelta) -> tuple[int, int]:
    """Whole hours and minutes left in `delta` (never negative)."""
    minutes = max(0, int(delta.total_seconds() // 60))
    return minutes // 60, minutes % 60
