"""Carrier timestamps to aware datetimes.

Carriers give scan times three ways: ISO 8601 with an offset (kept as given), UTC with "Z", or local
wall-clock time with no offset (UPS `date`/`time`, DHL `timestamp`, AfterShip `checkpoint_time`).
For the last, the zone is derived from the scan location and used only where it is unambiguous:
the candidate zones of the location (by US state and ZIP3, Canadian province, Australian state, or
country) must all give the same UTC offset at that wall-clock time. Otherwise the time is read as
UTC; that assumption is documented in docs/webhooks-generic.md ("Times").
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from functools import cache
from zoneinfo import ZoneInfo

from babel.core import get_global

from tracking.domain import CarrierParseError, Location

# Years outside this range are a garbled field, not a scan time.
EARLIEST_YEAR = 1990
LATEST_YEAR = 2100

_EASTERN = "America/New_York"
_CENTRAL = "America/Chicago"
_MOUNTAIN = "America/Denver"
_PACIFIC = "America/Los_Angeles"

# US states in one zone (AZ keeps standard time all year; the Navajo Nation's DST is ignored).
_US_STATE_ZONES: dict[str, str] = {
    **dict.fromkeys(["CT", "DE", "DC", "GA", "ME", "MD", "MA", "NH", "NJ"], _EASTERN),
    **dict.fromkeys(["NY", "NC", "OH", "PA", "RI", "SC", "VT", "VA", "WV"], _EASTERN),
    **dict.fromkeys(["AL", "AR", "IL", "IA", "LA", "MN", "MS", "MO", "OK", "WI"], _CENTRAL),
    **dict.fromkeys(["CO", "MT", "NM", "UT", "WY"], _MOUNTAIN),
    **dict.fromkeys(["CA", "WA"], _PACIFIC),
    "AZ": "America/Phoenix",
    "HI": "Pacific/Honolulu",
    "PR": "America/Puerto_Rico",
    "VI": "America/St_Thomas",
    "GU": "Pacific/Guam",
    "MP": "Pacific/Saipan",
    "AS": "Pacific/Pago_Pago",
}

# States split between zones: (default zone, {ZIP3 prefix: zone}). A ZIP3 area that straddles a
# zone line maps to both zones and so stays unresolved. ZIP3 areas from the USPS ZIP3 map read
# against the zone boundaries (49 CFR part 71).
_Zip3Zones = dict[str, tuple[str, ...]]
_US_SPLIT_STATES: dict[str, tuple[str, _Zip3Zones]] = {
    "FL": (_EASTERN, dict.fromkeys(("324", "325"), (_CENTRAL,))),
    "TX": (_CENTRAL, dict.fromkeys(("798", "799", "885"), (_MOUNTAIN,))),
    "TN": (_CENTRAL, dict.fromkeys(("373", "374", "376", "377", "378", "379"), (_EASTERN,))),
    "KY": (_EASTERN, dict.fromkeys(("420", "421", "422", "423", "424"), (_CENTRAL,))),
    "IN": (
        "America/Indiana/Indianapolis",
        dict.fromkeys(("463", "464", "476", "477"), (_CENTRAL,)),
    ),
    "MI": ("America/Detroit", dict.fromkeys(("498", "499"), ("America/Detroit", _CENTRAL))),
    "ND": (_CENTRAL, {"586": (_MOUNTAIN,)}),
    "SD": (_CENTRAL, {"577": (_MOUNTAIN,)}),
    "NE": (_CENTRAL, {"693": (_MOUNTAIN,)}),
    "KS": (_CENTRAL, {"677": (_CENTRAL, _MOUNTAIN)}),
    "ID": ("America/Boise", dict.fromkeys(("835", "838"), (_PACIFIC,))),
    "OR": (_PACIFIC, {"979": ("America/Boise",)}),
    "NV": (_PACIFIC, {"898": (_PACIFIC, _MOUNTAIN)}),
    "AK": ("America/Anchorage", {"995": ("America/Anchorage", "America/Adak")}),
}

_CA_PROVINCE_ZONES = {
    "AB": "America/Edmonton",
    "MB": "America/Winnipeg",
    "NS": "America/Halifax",
    "NB": "America/Moncton",
    "PE": "America/Halifax",
    "YT": "America/Whitehorse",
}
_AU_STATE_ZONES = {
    "VIC": "Australia/Melbourne",
    "QLD": "Australia/Brisbane",
    "SA": "Australia/Adelaide",
    "TAS": "Australia/Hobart",
    "NT": "Australia/Darwin",
    "ACT": "Australia/Sydney",
    "WA": "Australia/Perth",
}


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _us_candidates(region: str, postcode: str) -> list[str]:
    state = region
    if state in _US_STATE_ZONES:
        return [_US_STATE_ZONES[state]]
    if state not in _US_SPLIT_STATES:
        return []
    default, by_zip3 = _US_SPLIT_STATES[state]
    zip3 = postcode[:3]
    if not re.fullmatch(r"\d{3}", zip3):
        # No ZIP: every zone the state spans is a candidate, so the time stays unresolved.
        return [default, *(zone for zones in by_zip3.values() for zone in zones)]
    return list(by_zip3.get(zip3, (default,)))


def candidate_zones(location: Location) -> list[str]:
    """The IANA zones the location could be in (empty when nothing is known)."""
    country = location.country.strip().upper()
    region = location.region.strip().upper()
    postcode = location.postcode.strip().upper()
    if country in {"US", "USA", ""} and region:
        us_zones = _us_candidates(region, postcode)
        if us_zones or country:
            return us_zones
    if country == "CA" and region in _CA_PROVINCE_ZONES:
        return [_CA_PROVINCE_ZONES[region]]
    if country == "AU" and region in _AU_STATE_ZONES:
        return [_AU_STATE_ZONES[region]]
    if country == "AU" and region == "NSW":
        # Broken Hill (2880) keeps South Australian time.
        return ["Australia/Adelaide" if postcode == "2880" else "Australia/Sydney"]
    if len(country) != 2:
        return []
    return list(get_global("territory_zones").get(country, []))


def zone_for(location: Location, at: datetime) -> tzinfo | None:
    """The zone for a naive wall-clock time at `location`, or None when it is ambiguous."""
    names = candidate_zones(location)
    if not names:
        return None
    zones = [_zone(name) for name in names]
    offsets = {at.replace(tzinfo=zone).utcoffset() for zone in zones}
    return zones[0] if len(offsets) == 1 else None


def localise(naive: datetime, location: Location) -> datetime:
    """Attach the location's zone to a naive local time; UTC when the zone is ambiguous."""
    return naive.replace(tzinfo=zone_for(location, naive) or UTC)


def check_plausible(moment: datetime, where: str) -> datetime:
    """`moment` itself, or a parse error when its year cannot be a parcel scan."""
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise CarrierParseError(f"{where}: implausible year {moment.year}")
    return moment


def parse_timestamp(
    value: str, where: str, *, location: Location | None = None, offset: tzinfo | None = None
) -> datetime:
    """An ISO 8601 timestamp; without an offset it gets `offset` when the carrier sent one
    separately, else the zone of `location` (see the module docstring)."""
    raw = value.strip()
    if not raw:
        raise CarrierParseError(f"{where}: missing")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise CarrierParseError(f"{where}: not an ISO 8601 timestamp: {raw[:40]!r}") from None
    check_plausible(parsed, where)
    if parsed.tzinfo is None:
        parsed = (
            parsed.replace(tzinfo=offset) if offset else localise(parsed, location or Location())
        )
    return parsed


def parse_compact(date_text: str, time_text: str, where: str, location: Location) -> datetime:
    """UPS-style local `YYYYMMDD` + `HHMMSS` (or `HH:MM:SS`) at `location`."""
    digits = time_text.replace(":", "").strip() or "000000"
    if not re.fullmatch(r"\d{8}", date_text.strip()) or not re.fullmatch(r"\d{4}|\d{6}", digits):
        raise CarrierParseError(
            f"{where}: expected YYYYMMDD and HHMMSS, got {date_text!r} {time_text!r}"
        )
    digits = digits.ljust(6, "0")
    try:
        day = date(int(date_text[:4]), int(date_text[4:6]), int(date_text[6:8]))
        clock = time(int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError as error:
        raise CarrierParseError(f"{where}: invalid date or time ({error})") from None
    naive = check_plausible(datetime.combine(day, clock), where)
    return localise(naive, location)


def parse_offset(value: str, where: str) -> tzinfo:
    """A UTC offset like "-05:00", "-5:00" or "+0900" as a fixed zone."""
    match = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})", value.strip())
    if match is None:
        raise CarrierParseError(f"{where}: not a UTC offset: {value[:20]!r}")
    sign, hours, minutes = match.groups()
    if int(hours) > 14 or int(minutes) > 59:
        raise CarrierParseError(f"{where}: UTC offset out of range: {value!r}")
    parsed = datetime.strptime(f"{sign}{int(hours):02d}{minutes}", "%z")
    zone = parsed.tzinfo
    assert zone is not None
    return zone
