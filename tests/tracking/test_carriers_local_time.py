"""Carrier local times to aware datetimes: zones only where the location makes them certain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracking.carriers.local_time import (
    candidate_zones,
    localise,
    parse_compact,
    parse_offset,
    parse_timestamp,
)
from tracking.domain import CarrierParseError, Location

WINTER = datetime(2026, 1, 15, 12, 0)
SUMMER = datetime(2026, 7, 15, 12, 0)


@pytest.mark.parametrize(
    ("location", "when", "offset_hours"),
    [
        (Location(region="NY", country="US"), WINTER, -5),
        (Location(region="NY", country="US"), SUMMER, -4),
        (Location(region="AZ", country="US"), SUMMER, -7),  # no DST in Arizona
        (Location(region="TX", postcode="75201", country="US"), WINTER, -6),  # Dallas
        (Location(region="TX", postcode="79901", country="US"), WINTER, -7),  # El Paso
        (Location(region="FL", postcode="32501", country="US"), WINTER, -6),  # Pensacola
        (Location(region="FL", postcode="33101", country="US"), WINTER, -5),  # Miami
        (Location(region="TN", postcode="37902", country="US"), WINTER, -5),  # Knoxville
        (Location(region="IN", postcode="46402", country="US"), WINTER, -6),  # Gary
        (Location(country="JP"), SUMMER, 9),
        (Location(country="NL"), SUMMER, 2),
        (Location(country="DE"), WINTER, 1),  # Berlin and Busingen agree
        (Location(region="NSW", postcode="2880", country="AU"), WINTER, 10.5),  # Broken Hill
        (Location(region="NSW", postcode="2000", country="AU"), WINTER, 11),  # Sydney
    ],
)
def test_unambiguous_locations_get_their_zone(location, when, offset_hours):
    assert localise(when, location).utcoffset() == timedelta(hours=offset_hours)


@pytest.mark.parametrize(
    "location",
    [
        Location(country="US"),  # no state
        Location(region="TX", country="US"),  # two zones, no ZIP
        Location(region="MI", postcode="49801", country="US"),  # ZIP3 straddles the zone line
        Location(country="CN"),  # Shanghai and Urumqi differ
        Location(),
    ],
)
def test_ambiguous_locations_fall_back_to_utc(location):
    assert localise(WINTER, location).tzinfo is UTC


def test_candidate_zones_list_every_zone_of_a_split_state():
    assert set(candidate_zones(Location(region="TX", country="US"))) == {
        "America/Chicago",
        "America/Denver",
    }


def test_timestamps_with_offsets_are_kept_and_naive_ones_localised():
    kept = parse_timestamp("2026-11-21T10:00:00-08:00", "t")
    assert kept.utcoffset() == timedelta(hours=-8)
    zulu = parse_timestamp("2026-11-21T10:00:00Z", "t")
    assert zulu.utcoffset() == timedelta(0)
    tokyo = parse_timestamp("2026-11-21T10:00:00", "t", location=Location(country="JP"))
    assert tokyo.utcoffset() == timedelta(hours=9)
    given = parse_timestamp("2026-11-21T10:00:00", "t", offset=parse_offset("-5:00", "o"))
    assert given.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "t: missing"),
        ("yesterday", "not an ISO 8601 timestamp"),
        ("0001-01-01T00:00:00+14:00", "implausible year 1"),
        ("2999-01-01T00:00:00Z", "implausible year 2999"),
    ],
)
def test_bad_timestamps_are_parse_errors(value, message):
    with pytest.raises(CarrierParseError, match=message):
        parse_timestamp(value, "t")


def test_compact_ups_dates_and_times():
    moment = parse_compact("20261121", "1830", "a", Location(region="WA", country="US"))
    assert moment == datetime(2026, 11, 21, 18, 30, tzinfo=moment.tzinfo)
    assert moment.utcoffset() == timedelta(hours=-8)
    with pytest.raises(CarrierParseError, match="invalid date"):
        parse_compact("20260230", "120000", "a", Location())
    with pytest.raises(CarrierParseError, match="expected YYYYMMDD"):
        parse_compact("2026-02-03", "120000", "a", Location())


@pytest.mark.parametrize("value", ["+15:00", "-05:60", "EST", "0500"])
def test_offsets_out_of_range_or_malformed_are_refused(value):
    with pytest.raises(CarrierParseError):
        parse_offset(value, "o")
