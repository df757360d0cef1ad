"""The scan key's bytes never change: keys stored yesterday must match keys computed today."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.scan_keys import scan_key


def _reference_key(
    carrier: str,
    tracking_number: str,
    occurred_at: datetime,
    carrier_code: str,
    city: str,
    region: str,
    postcode: str,
    country: str,
) -> str:
    """The key as first written (before the cached parts), kept here as the contract."""

    def clean(value: str) -> str:
        return " ".join(value.split()).casefold()

    place = "|".join(clean(p) for p in (city, region, postcode.replace(" ", ""), country))
    minute = occurred_at.astimezone(UTC).replace(second=0, microsecond=0).isoformat()
    raw = "\x1f".join(
        (
            clean(carrier),
            tracking_number.replace(" ", "").upper(),
            minute,
            carrier_code.strip().upper(),
            hashlib.sha256(place.encode()).hexdigest()[:16],
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def test_a_known_scan_keeps_its_key():
    at = datetime(2026, 11, 22, 3, 0, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))
    key = scan_key(
        carrier="UPS",
        tracking_number="1z999aa1 0123456784",
        occurred_at=at,
        carrier_code=" ar ",
        city="Louisville",
        region="KY",
        postcode="40 201",
        country="US",
    )
    # Computed by the original implementation (commit 331bfcc); stored rows carry such keys.
    assert key == "b06ab8333c2accb393ad3eafd9db99386bd0edb4c658be75fe2a3e58877fe1e6"
    assert key == _reference_key(
        "UPS", "1z999aa1 0123456784", at, " ar ", "Louisville", "KY", "40 201", "US"
    )


_zones = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-23 * 60, 23 * 60)
)
_text = st.text(max_size=12)


@settings(max_examples=400)
@given(
    carrier=_text,
    number=_text,
    at=st.datetimes(
        min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=_zones
    ),
    code=_text,
    city=_text,
    region=_text,
    postcode=_text,
    country=_text,
)
def test_scan_key_matches_the_reference_bytes_for_any_input(
    carrier, number, at, code, city, region, postcode, country
):
    assert scan_key(
        carrier=carrier,
        tracking_number=number,
        occurred_at=at,
        carrier_code=code,
        city=city,
        region=region,
        postcode=postcode,
        country=country,
    ) == _reference_key(carrier, number, at, code, city, region, postcode, country)
