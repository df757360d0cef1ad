"""Rules for values that come from a store: ISO codes, money precision, phone numbers.

Pure functions returning an error message (or the normalised value); services collect the
messages per dotted field path and raise one `InvalidInputError`.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

import phonenumbers
from babel import Locale
from babel.numbers import get_currency_precision, list_currencies

# Codes Babel knows that are not a real money or a real place.
_NOT_CURRENCIES = frozenset({"XXX", "XTS"})
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})
# The database stores money with two decimal places.
STORED_DECIMAL_PLACES = 2
MAX_AMOUNT = Decimal("9999999999.99")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@cache
def currency_codes() -> frozenset[str]:
    """ISO 4217 codes (from Babel's CLDR data)."""
    return frozenset(list_currencies()) - _NOT_CURRENCIES


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (from Babel's CLDR data)."""
    codes = {str(code) for code in Locale("en").territories}
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha()) - _NOT_COUNTRIES


def currency_error(code: str) -> str | None:
    if code not in currency_codes():
        return f"'{code}' is not an ISO 4217 currency code (e.g. USD, EUR, JPY)."
    return None


def country_error(code: str) -> str | None:
    if code not in country_codes():
        return f"'{code}' is not an ISO 3166-1 alpha-2 country code (e.g. US, JP)."
    return None


def amount_error(amount: Decimal, currency: str, *, allow_zero: bool = True) -> str | None:
    """A message when `amount` is negative, too large, or finer than the currency's minor unit."""
    if not amount.is_finite():
        return "Enter a number."
    if amount < 0 or (amount == 0 and not allow_zero):
        return "Must be greater than zero." if not allow_zero else "Must not be negative."
    if amount > MAX_AMOUNT:
        return f"Must be at most {MAX_AMOUNT}."
    places = -int(amount.normalize().as_tuple().exponent)
    if currency in currency_codes():
        precision = get_currency_precision(currency)
        if places > precision:
            if precision == 0:
                return f"{currency} has no minor unit: use a whole amount."
            return f"{currency} amounts have at most {precision} decimal places."
    if places > STORED_DECIMAL_PLACES:
        return f"Amounts are stored with at most {STORED_DECIMAL_PLACES} decimal places."
    return None


def phone_normalise(raw: str, *, region: str = "") -> tuple[str, str | None]:
    """(E.164 number, error). A national number is read in `region` (the shipping country)."""
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return "", "Enter a valid phone number in E.164 format, e.g. +14155550123."
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def utc_datetime(value: datetime) -> tuple[datetime | None, str | None]:
    """(the same instant in UTC, error): naive times are refused, not guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        return None, "Give a time zone offset, e.g. 2026-11-23T10:00:00Z."
    try:
        return value.astimezone(UTC), None
    except (OverflowError, ValueError):
        return None, "This date-time is out of range."


def time_zone_error(name: str) -> str | None:
    if name not in zoneinfo.available_timezones():
        return f"'{name}' is not an IANA time zone (e.g. Asia/Tokyo)."
    return None


def language_error(code: str) -> str | None:
    if not _LANGUAGE_RE.match(code) or len(code) > 8:
        return f"'{code}' is not a language code (e.g. en, ja, pt-BR)."
    return None
