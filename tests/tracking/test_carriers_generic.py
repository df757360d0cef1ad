"""Our generic tracking webhook format (docs/webhooks-generic.md)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracking.carriers import generic
from tracking.domain import CarrierParseError, ExceptionReason, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks-generic.md"


def _fixture() -> dict:
    return json.loads((FIXTURES / "generic_yamato.json").read_text(encoding="utf-8"))


def test_carrier_and_number_are_normalised():
    assert generic.tracking_ref(_fixture()) == ("yamato", "445566778893")
    assert generic.event_id(_fixture()) == "acme-wms-000123"


def test_events_in_our_vocabulary_and_code_only_events_unmapped():
    events = generic.parse(_fixture())
    assert [e.status for e in events] == [
        ShipmentStatus.INFO_RECEIVED,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.ATTEMPT_FAILED,
        ShipmentStatus.IN_TRANSIT,
    ]
    assert events[2].reason is ExceptionReason.CONSIGNEE_NOT_HOME
    assert events[2].action_required is True
    assert events[3].mapped is False
    assert events[3].carrier_code == "保管中"
    assert events[1].location.country == "JP"
    assert events[0].occurred_at == datetime(
        2026, 11, 20, 18, 30, tzinfo=timezone(timedelta(hours=9))
    )


def test_event_id_without_one_is_a_content_hash():
    payload = _fixture()
    del payload["event_id"]
    reordered = dict(reversed(list(payload.items())))
    assert generic.event_id(payload) == generic.event_id(reordered)
    assert generic.event_id(payload).startswith("generic_")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"occurred_at": "2026-11-20T18:30:00"}, "needs a UTC offset"),
        ({"status": "teleported"}, "unknown 'teleported'"),
        ({"reason": "aliens"}, "unknown 'aliens'"),
        ({"status": None, "code": None}, "give a status, a code, or both"),
    ],
)
def test_strict_validation_with_clear_messages(change, message):
    payload = _fixture()
    payload["events"][0].update(change)
    with pytest.raises(CarrierParseError, match=message) as error:
        generic.parse(payload)
    assert "$.events[0]" in str(error.value)


def test_documented_example_parses():
    text = DOC.read_text(encoding="utf-8")
    example = text.split("```json", 1)[1].split("```", 1)[0]
    events = generic.parse(json.loads(example))
    assert events
    assert generic.event_id(json.loads(example))
