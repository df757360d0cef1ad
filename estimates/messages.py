"""The shopper-facing sentences of estimates, in English and Japanese.

Kept as small templates (not gettext catalogues) because the embeddable script needs them as JSON
too (`/estimates/strings/<language>.json`); dates are formatted by Babel in the shopper's locale.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from estimates.business_days import format_countdown

LANGUAGES = ("en", "ja")
STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "order_within": "Order within {hours} h {minutes} min to get it by {date}",
        "order_within_minutes": "Order within {minutes} min to get it by {date}",
        "arrives": "Arrives {start} – {end}",  # noqa: RUF001 - typographic dash
        "arrives_single": "Arrives {date}",
        "gift_in_time": "Order by {moment} for {name}",
        "gift_too_late": "Too late for {name}",
        "loading": "Checking delivery dates…",
        "unavailable": "Delivery date not available",
        "date_pattern": "EEE d MMM",
        "moment_pattern": "EEE d MMM HH:mm",
    },
    "ja": {
        "order_within": "{hours}時間{minutes}分以内のご注文で{date}にお届け",
        "order_within_minutes": "{minutes}分以内のご注文で{date}にお届け",
        "arrives": "{start}〜{end}にお届け",
        "arrives_single": "{date}にお届け",
        "gift_in_time": "{name}に間に合うご注文期限：{moment}",  # noqa: RUF001
        "gift_too_late": "{name}には間に合いません",
        "loading": "お届け日を確認しています…",
        "unavailable": "お届け日を表示できません",
        "date_pattern": "M月d日(E)",
        "moment_pattern": "M月d日(E) HH:mm",
    },
}


def language_for(code: str | None) -> str:
    """The supported language closest to `code` ('ja-JP' -> 'ja'; unknown -> 'en')."""
    base = (code or "en").split("-")[0].split("_")[0].lower()
    return base if base in STRINGS else "en"


def format_day(day: date, language: str) -> str:
    strings = STRINGS[language]
    return format_date(day, strings["date_pattern"], locale=language)


def countdown_message(*, time_left: timedelta, promise: date, language: str) -> str:
    """'Order within 2 h 14 min to get it by Tue 26 Nov' in the shopper's language."""
    hours, minutes = format_countdown(time_left)
    strings = STRINGS[language]
    day = format_day(promise, language)
    if hours == 0:
        return strings["order_within_minutes"].format(minutes=minutes, date=day)
    return strings["order_within"].format(hours=hours, minutes=minutes, date=day)


def window_message(*, start: date, end: date, language: str) -> str:
    strings = STRINGS[language]
    if start == end:
        return strings["arrives_single"].format(date=format_day(start, language))
    return strings["arrives"].format(
        start=format_day(start, language), end=format_day(end, language)
    )


def gift_message(*, name: str, order_by: datetime | None, language: str, tz: str) -> str:
    strings = STRINGS[language]
    if order_by is None:
        return strings["gift_too_late"].format(name=name)
    moment = format_datetime(
        order_by, strings["moment_pattern"], tzinfo=ZoneInfo(tz), locale=language
    )
    return strings["gift_in_time"].format(moment=moment, name=name)
