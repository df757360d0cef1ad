"""Every adapter over every sample and fixture, and fed arbitrary JSON (hypothesis)."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracking.carriers import SourceKind, UnknownSourceError, adapters, get_adapter
from tracking.domain import CarrierParseError, ParsedEvent
from tracking.tracking_numbers import normalise_number

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SHARED = Path("/work/shared/data/carriers")
SHARED_SAMPLES = {
    "ups": "ups_track_api_v1_response_karrio.json",
    "fedex": "fedex_track_api_v1_response_karrio.json",
    "usps": "usps_tracking_v3_responses_karrio.json",
    "dhl": "dhl_unified_tracking_response_karrio.json",
    "easypost": "easypost_webhook_tracker_updated_event.json",
    "aftership": "aftership_webhook_tracking_update_trimmed.json",
    "shippo": "shippo_webhook_track_updated.json",
}
OWN_FIXTURES = sorted(FIXTURES.glob("*.json"))
# Mutation seeds: our fixtures always, the documented samples too when they are present.
MUTATION_SEEDS = OWN_FIXTURES + (
    sorted(SHARED / name for name in SHARED_SAMPLES.values()) if SHARED.exists() else []
)


def _source_of(path: Path) -> str:
    return path.name.split("_")[0]


def _assert_well_formed(events: list[ParsedEvent], version: str) -> None:
    for event in events:
        assert isinstance(event, ParsedEvent)
        assert event.occurred_at.tzinfo is not None
        assert event.occurred_at.utcoffset() is not None
        assert event.tracking_number
        assert event.tracking_number == normalise_number(event.tracking_number)
        assert event.carrier
        assert event.mapping_version == version
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)


def test_registry_knows_every_source_and_its_kind():
    registered = adapters()
    assert set(registered) == {
        "ups", "fedex", "usps", "dhl", "easypost", "aftership", "shippo", "shopify", "generic",
    }  # fmt: skip
    assert {s for s, a in registered.items() if a.pollable} == {"ups", "fedex", "usps", "dhl"}
    for source, adapter in registered.items():
        webhook = adapter.kind is not SourceKind.CARRIER_API
        assert (adapter.event_id is not None) is webhook, source
        assert (adapter.tracking_ref is not None) is webhook, source
        assert adapter.code_table_version.startswith(source)


def test_unknown_source_names_the_known_ones():
    with pytest.raises(UnknownSourceError, match="known: aftership"):
        get_adapter("pony-express")


@pytest.mark.skipif(not SHARED.exists(), reason="shared carrier samples not present")
@pytest.mark.parametrize(("source", "filename"), sorted(SHARED_SAMPLES.items()))
def test_every_adapter_reads_its_documented_sample(source, filename):
    adapter = get_adapter(source)
    payload = json.loads((SHARED / filename).read_text(encoding="utf-8"))
    events = adapter.parse(payload)
    assert events, f"{filename} has scans"
    _assert_well_formed(events, adapter.code_table_version)
    if adapter.event_id is not None and adapter.tracking_ref is not None:
        assert adapter.event_id(payload) == adapter.event_id(copy.deepcopy(payload))
        carrier, number = adapter.tracking_ref(payload)
        assert {(e.carrier, e.tracking_number) for e in events} == {(carrier, number)}


@pytest.mark.parametrize("path", OWN_FIXTURES, ids=lambda p: p.name)
def test_every_adapter_reads_its_own_fixtures(path):
    adapter = get_adapter(_source_of(path))
    events = adapter.parse(json.loads(path.read_text(encoding="utf-8")))
    assert len(events) >= 1
    _assert_well_formed(events, adapter.code_table_version)


def test_own_fixtures_cover_every_source_and_the_hard_cases():
    assert {_source_of(p) for p in OWN_FIXTURES} == set(adapters())
    statuses, unmapped = set(), 0
    for path in OWN_FIXTURES:
        events = get_adapter(_source_of(path)).parse(json.loads(path.read_text(encoding="utf-8")))
        statuses |= {e.status.value for e in events}
        unmapped += sum(not e.mapped for e in events)
    assert {"exception", "attempt_failed", "delivered", "returned_to_sender"} <= statuses
    assert unmapped >= 6


def test_a_payload_of_the_wrong_source_is_a_parse_error_not_a_crash():
    ups_payload = json.loads(
        (FIXTURES / "ups_exception_then_delivered.json").read_text(encoding="utf-8")
    )
    for source, adapter in adapters().items():
        if source == "ups":
            continue
        with pytest.raises(CarrierParseError):
            adapter.parse(ups_payload)


# --- Property: arbitrary JSON in, events or CarrierParseError out -------------------------------

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
# Strings that look like the fields adapters read, so mutations reach deep code paths.
tricky_strings = st.sampled_from(
    ["", " ", "2026-11-21T10:00:00", "2026-11-21T10:00:00+09:00", "0001-01-01T00:00:00+14:00",
     "9999-12-31T23:59:59-12:00", "20261121", "250000", "-05:00", "+14:59", "Z", "DL", "unknown",
     "Exception_011", "failure", "transit", "1Z5R89390357567127", "NaN", "\u0000"]
)  # fmt: skip
mutation_values = json_values | tricky_strings


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(document: Any, path: tuple, replacement: Any, delete: bool) -> Any:
    if not path:
        return replacement
    mutated = copy.deepcopy(document)
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return mutated


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> tuple[str, Any]:
    path = draw(st.sampled_from(MUTATION_SEEDS))
    document = json.loads(path.read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = draw(st.sampled_from(_paths(document)))
        document = _mutate(document, target, draw(mutation_values), draw(st.booleans()))
    return _source_of(path), document


def _call_everything(source: str, payload: Any) -> None:
    adapter = get_adapter(source)
    reasons: list[str] = []
    for call in (adapter.parse, adapter.event_id, adapter.tracking_ref):
        if call is None:
            continue
        try:
            result = call(payload)
        except CarrierParseError as error:
            reasons.append(str(error))
            continue
        if call is adapter.parse:
            assert isinstance(result, list)
            for event in result:
                assert isinstance(event, ParsedEvent)
                assert isinstance(event.occurred_at, datetime)
                assert event.occurred_at.utcoffset() is not None
    assert all(reasons), "every parse error says why"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(sorted(adapters())), payload=json_values)
def test_arbitrary_json_gives_events_or_a_parse_error(source, payload):
    _call_everything(source, payload)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_fixtures())
def test_mutated_real_payloads_give_events_or_a_parse_error(case):
    source, payload = case
    _call_everything(source, payload)
