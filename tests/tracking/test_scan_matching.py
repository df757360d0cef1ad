"""The cross-source match key and the multiset pairing of carrier and aggregator scans."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.models import ScanOrigin
from tracking.scan_matching import ScanFacts, match_key, match_key_for, origin_of_kind, pair_scans

C, A, N = ScanOrigin.CARRIER, ScanOrigin.AGGREGATOR, ScanOrigin.OTHER  # N: neither
AT = datetime(2026, 11, 22, 18, 58, 0, tzinfo=UTC)
EASTERN = timezone(timedelta(hours=-5))


def key(at=AT, status="in_transit", city="Hernando", postcode="34442", country="US"):
    return match_key(at, status, city, postcode, country)


@pytest.mark.parametrize(
    ("label", "other"),
    [
        ("same instant in the local zone", {"at": AT.astimezone(EASTERN)}),
        ("seconds within the minute", {"at": AT + timedelta(seconds=59, microseconds=999999)}),
        ("city case and spacing", {"city": "  HERNANDO "}),
        ("city punctuation", {"city": "Hernando."}),
        ("ZIP+4", {"postcode": "34442-1234"}),
        ("ZIP+4 without a dash", {"postcode": "344421234"}),
        ("country case", {"country": "us"}),
    ],
)
def test_reports_of_one_scan_share_the_match_key(label, other):
    assert key(**other) == key(), label


def test_accents_and_abbreviation_dots_are_one_city():
    assert key(city="Saint-Étienne", country="FR", postcode="42000") == key(
        city="SAINT ETIENNE", country="FR", postcode="42 000"
    )
    assert key(city="St. Louis", postcode="63101") == key(city="ST LOUIS", postcode="63101")


@pytest.mark.parametrize(
    ("label", "other"),
    [
        ("next minute", {"at": AT + timedelta(minutes=1)}),
        ("an hour off (a zone read wrongly)", {"at": AT + timedelta(hours=5)}),
        ("another status", {"status": "out_for_delivery"}),
        ("another city", {"city": "Lecanto"}),
        ("another postcode", {"postcode": "34461"}),
        ("another country", {"country": "CA"}),
        ("postcode missing on one side", {"postcode": ""}),
        ("no place at all on one side", {"city": "", "postcode": "", "country": ""}),
    ],
)
def test_different_scans_have_different_match_keys(label, other):
    assert key(**other) != key(), label


def test_nine_digits_outside_the_us_are_not_cut_to_a_zip():
    assert key(postcode="123456789", country="BR") != key(postcode="12345", country="BR")


def test_only_carrier_and_aggregator_scans_get_a_match_key():
    assert match_key_for(N, AT, "in_transit", "X", "1", "US") is None
    assert match_key_for(C, AT, "in_transit", "X", "1", "US") == match_key_for(
        A, AT, "in_transit", "X", "1", "US"
    )
    assert origin_of_kind("carrier_api") == C
    assert origin_of_kind("aggregator") == A
    assert origin_of_kind("store") == origin_of_kind("generic") == N


@pytest.mark.parametrize(
    ("label", "rows", "links"),
    [
        ("one each", [(1, C, 7, None), (2, A, 7, None)], {2: 1}),
        ("aggregator first", [(1, A, 7, None), (2, C, 7, None)], {1: 2}),
        ("other keys never pair", [(1, C, 7, None), (2, A, 8, None)], {}),
        ("two carriers never pair", [(1, C, 7, None), (2, C, 7, None)], {}),
        ("two aggregators never pair", [(1, A, 7, None), (2, A, 7, None)], {}),
        ("other origins never pair", [(1, N, None, None), (2, A, 7, None)], {}),
        (
            "two carrier scans, one report",
            [(1, C, 7, None), (2, C, 7, None), (3, A, 7, None)],
            {3: 1},
        ),
        (
            "one carrier scan, two reports",
            [(1, C, 7, None), (2, A, 7, None), (3, A, 7, None)],
            {2: 1},
        ),
        ("a partnered carrier row is taken", [(1, C, 7, None), (2, A, 7, 1), (3, A, 7, None)], {}),
        (
            "the free carrier row is used",
            [(1, C, 7, None), (2, C, 7, None), (3, A, 7, 1), (4, A, 7, None)],
            {4: 2},
        ),
    ],
)
def test_pairing_table(label, rows, links):
    assert pair_scans([ScanFacts(*row) for row in rows]) == links, label


scan_specs = st.lists(
    st.tuples(st.sampled_from([C, A, N]), st.integers(min_value=0, max_value=3)), max_size=14
)


def _arrive(specs, order, chunks):
    """Insert the scans in `order`, pairing after each chunk as the recording paths do."""
    stored: dict[int, ScanFacts] = {}
    pending = list(order)
    for size in chunks:
        for index in pending[:size]:
            origin, group = specs[index]
            stored[index + 1] = ScanFacts(index + 1, origin, None if origin == N else group, None)
        pending = pending[size:]
        for aggregator_id, carrier_id in pair_scans(stored.values()).items():
            stored[aggregator_id] = stored[aggregator_id]._replace(duplicate_of=carrier_id)
        if not pending:
            break
    return stored


@settings(max_examples=300, deadline=None)
@given(specs=scan_specs, data=st.data())
def test_whatever_the_arrival_order_each_carrier_scan_hides_at_most_one_report(specs, data):
    order = data.draw(st.permutations(range(len(specs))))
    chunks = data.draw(st.lists(st.integers(min_value=1, max_value=4), min_size=len(specs) + 1))
    stored = _arrive(specs, order, chunks)
    carriers = Counter(g for o, g in specs if o == C)
    reports = Counter(g for o, g in specs if o == A)
    hidden = [row for row in stored.values() if row.duplicate_of is not None]
    # A multiset match: per key, min(carrier scans, aggregator reports) are one event.
    assert len(hidden) == sum(min(carriers[g], reports[g]) for g in reports)
    partners = Counter(row.duplicate_of for row in hidden)
    assert all(n == 1 for n in partners.values())
    for row in hidden:
        partner = stored[row.duplicate_of]
        assert row.origin == A
        assert (partner.origin, partner.match_key) == (C, row.match_key)
    # Shown per key: max(carrier scans, aggregator reports); never fewer than either source.
    shown = Counter(row.match_key for row in stored.values() if row.duplicate_of is None)
    for group in set(carriers) | set(reports):
        assert shown[group] == max(carriers[group], reports[group])
    # A settled state pairs nothing more.
    assert pair_scans(stored.values()) == {}
