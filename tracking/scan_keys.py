"""The stable identity of one carrier scan, whichever way it reached us.

A scan is identified by carrier, tracking number, carrier time to the minute (in UTC), the
carrier's code and a hash of the place. Webhooks, polling and bulk import all compute it here, so
the same scan learnt twice is one row (unique per shipment). The key's bytes must never change:
stored rows are deduplicated against keys computed today.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from tracking.domain import ParsedEvent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_SEP = "\x1f"


def _clean(value: str) -> str:
    return " ".join(value.split()).casefold()


@lru_cache(maxsize=65536)
def _place_hash(city: str, region: str, postcode: str, country: str) -> str:
    place = "|".join(_clean(p) for p in (city, region, postcode.replace(" ", ""), country))
    return hashlib.sha256(place.encode()).hexdigest()[:16]


@lru_cache(maxsize=4096)
def _carrier_part(carrier: str) -> str:
    return _clean(carrier)


@lru_cache(maxsize=65536)
def _number_part(tracking_number: str) -> str:
    return tracking_number.replace(" ", "").upper()


@lru_cache(maxsize=65536)
def _code_part(carrier_code: str) -> str:
    return carrier_code.strip().upper()


@lru_cache(maxsize=131072)
def _minute_text(minute: int) -> str:
    # Exactly what `occurred_at.astimezone(UTC).replace(second=0, microsecond=0).isoformat()`
    # gives for an instant in that minute: the datetime is rebuilt and formatted the same way.
    return (_EPOCH + minute * _MINUTE).isoformat()


def scan_key(
    *,
    carrier: str,
    tracking_number: str,
    occurred_at: datetime,
    carrier_code: str,
    city: str = "",
    region: str = "",
    postcode: str = "",
    country: str = "",
) -> str:
    """The stable identity of one scan (sha256 hex), the same whichever way it reached us.

    sha256 over carrier, number, UTC minute, code and place hash joined by U+001F; the minute
    is `astimezone(UTC).replace(second=0, microsecond=0).isoformat()` of the carrier time. The
    parts are cached (floor division of timedelta is exact integer arithmetic, so the minute is
    never off by one at a boundary).
    """
    return scan_key_of(
        carrier, tracking_number, occurred_at, carrier_code, city, region, postcode, country
    )


def scan_key_of(
    carrier: str,
    tracking_number: str,
    occurred_at: datetime,
    carrier_code: str,
    city: str,
    region: str,
    postcode: str,
    country: str,
) -> str:
    """`scan_key` with positional arguments, for the bulk paths (one call per row)."""
    raw = _SEP.join(
        (
            _carrier_part(carrier),
            _number_part(tracking_number),
            _minute_text((occurred_at - _EPOCH) // _MINUTE),
            _code_part(carrier_code),
            _place_hash(city, region, postcode, country),
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def parsed_event_key(event: ParsedEvent) -> str:
    loc = event.location
    return scan_key_of(
        event.carrier,
        event.tracking_number,
        event.occurred_at,
        event.carrier_code,
        loc.city,
        loc.region,
        loc.postcode,
        loc.country,
    )
