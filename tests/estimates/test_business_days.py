"""Business-day arithmetic across national holidays and carrier closures, and warehouse cut-offs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from estimates.business_days import calendar_for, dispatch_for_order, format_countdown


def test_golden_week_skips_showa_day_and_the_may_holidays() -> None:
    japan = calendar_for("JP")
    # Fri 26 Apr 2024 + 1 business day: Mon 29 Apr is Showa Day -> Tue 30 Apr.
    assert japan.add_business_days(date(2024, 4, 26), 1) == date(2024, 4, 30)
    # Thu 2 May + 1: 3, 4, 5 May are holidays, 6 May the substitute holiday -> Tue 7 May.
    assert japan.add_business_days(date(2024, 5, 2), 1) == date(2024, 5, 7)
    assert japan.business_days_between(date(2024, 4, 26), date(2024, 5, 7)) == 4


def test_brazilian_carnival_closes_carriers() -> None:
    brazil = calendar_for("BR")
    # Fri 9 Feb 2024 + 1: Carnival Mon 12, Tue 13 and Ash Wednesday 14 Feb are skipped.
    assert brazil.add_business_days(date(2024, 2, 9), 1) == date(2024, 2, 15)
    assert brazil.is_holiday(date(2024, 2, 13))
    assert not brazil.is_holiday(date(2024, 2, 15))


def test_us_thanksgiving_and_a_carrier_closure_the_day_after() -> None:
    usa = calendar_for("US")
    assert usa.add_business_days(date(2024, 11, 27), 1) == date(2024, 11, 29)
    carrier = calendar_for("US", closed_dates=[date(2024, 11, 29)])
    assert carrier.add_business_days(date(2024, 11, 27), 1) == date(2024, 12, 2)


def test_saturday_working_carrier_counts_saturdays() -> None:
    six_days = calendar_for("JP", working_weekdays=[0, 1, 2, 3, 4, 5])
    assert six_days.add_business_days(date(2024, 6, 7), 1) == date(2024, 6, 8)
    assert calendar_for("JP").add_business_days(date(2024, 6, 7), 1) == date(2024, 6, 10)


def test_unknown_country_has_weekends_only() -> None:
    nowhere = calendar_for("XX")
    assert nowhere.add_business_days(date(2024, 12, 24), 1) == date(2024, 12, 25)


def test_negative_business_days_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        calendar_for("US").add_business_days(date(2024, 1, 2), -1)


TOKYO_CUTOFF = time(14, 0)


def _tokyo_dispatch(ordered_at: datetime, handling_days: int = 0):  # type: ignore[no-untyped-def]
    return dispatch_for_order(
        ordered_at=ordered_at,
        time_zone="Asia/Tokyo",
        cutoff=TOKYO_CUTOFF,
        handling_days=handling_days,
        calendar=calendar_for("JP"),
    )


def test_order_a_minute_before_the_cutoff_in_the_warehouse_zone_ships_today() -> None:
    # 04:59 UTC is 13:59 in Tokyo on Tue 25 Jun 2024.
    dispatch = _tokyo_dispatch(datetime(2024, 6, 25, 4, 59, tzinfo=UTC))
    assert dispatch.before_cutoff
    assert dispatch.ship_date == date(2024, 6, 25)
    assert dispatch.cutoff_at == datetime(2024, 6, 25, 5, 0, tzinfo=UTC)


def test_order_a_minute_after_the_cutoff_ships_next_business_day() -> None:
    dispatch = _tokyo_dispatch(datetime(2024, 6, 25, 5, 1, tzinfo=UTC))
    assert not dispatch.before_cutoff
    assert dispatch.ship_date == date(2024, 6, 26)


def test_cutoff_is_judged_in_the_warehouse_zone_not_utc() -> None:
    # 20:00 UTC on Mon 24 Jun is already 05:00 on Tue 25 Jun in Tokyo: before that day's cut-off.
    dispatch = _tokyo_dispatch(datetime(2024, 6, 24, 20, 0, tzinfo=UTC))
    assert dispatch.before_cutoff
    assert dispatch.ship_date == date(2024, 6, 25)


def test_after_friday_cutoff_before_golden_week_handling_starts_after_the_holidays() -> None:
    # Fri 3 May 2024 is a holiday already; an order then starts handling Tue 7 May.
    dispatch = _tokyo_dispatch(datetime(2024, 5, 2, 6, 0, tzinfo=UTC), handling_days=1)
    assert dispatch.ship_date == date(2024, 5, 8)


def test_naive_order_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        _tokyo_dispatch(datetime(2024, 6, 25, 4, 59))


def test_countdown_rounds_down_to_whole_minutes() -> None:
    assert format_countdown(timedelta(hours=2, minutes=14, seconds=59)) == (2, 14)
    assert format_countdown(timedelta(seconds=-5)) == (0, 0)
