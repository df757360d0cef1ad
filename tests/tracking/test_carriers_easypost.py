"""EasyPost tracker webhook adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracking.carriers import easypost
from tracking.domain import CarrierParseError, ExceptionReason, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SAMPLE = Path("/work/shared/data/carriers/easypost_webhook_tracker_updated_event.json")


def _fixture() -> dict:
    return json.loads((FIXTURES / "easypost_failure_return.json").read_text(encoding="utf-8"))


def test_event_id_and_tracking_ref_use_the_underlying_carrier():
    assert easypost.event_id(_fixture()) == "evt_fixture_0001"
    assert easypost.tracking_ref(_fixture()) == ("ups", "1Z879E930346834440")


def test_details_map_status_then_detail():
    events = easypost.parse(_fixture())
    assert [(e.carrier_code, e.status) for e in events] == [
        ("label_created", ShipmentStatus.INFO_RECEIVED),
        ("arrived_at_facility", ShipmentStatus.IN_TRANSIT),
        ("address_correction", ShipmentStatus.EXCEPTION),
        ("unknown", ShipmentStatus.IN_TRANSIT),
        ("return", ShipmentStatus.RETURNING_TO_SENDER),
    ]
    assert events[2].reason is ExceptionReason.CONSIGNEE_ADDRESS_INCORRECT
    assert events[3].mapped is False
    assert all(e.carrier == "ups" for e in events)


def test_a_bare_tracker_is_accepted():
    assert easypost.parse(_fixture()["result"]) == easypost.parse(_fixture())


def test_other_event_objects_are_refused():
    payload = _fixture()
    payload["result"]["object"] = "Batch"
    with pytest.raises(CarrierParseError, match="expected Tracker"):
        easypost.parse(payload)
    with pytest.raises(CarrierParseError, match=r"\$\.id: missing"):
        easypost.event_id({"description": "tracker.updated"})


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared carrier samples not present")
def test_documented_sample_parses():
    payload = json.loads(SAMPLE.read_text(encoding="utf-8"))
    events = easypost.parse(payload)
    assert easypost.tracking_ref(payload) == ("fedex", "1")
    assert len(events) == 7
    assert events[0].status is ShipmentStatus.INFO_RECEIVED
    assert events[0].estimated_delivery is not None
