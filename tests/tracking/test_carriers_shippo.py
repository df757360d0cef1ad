"""Shippo track_updated webhook adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracking.carriers import shippo
from tracking.domain import CarrierParseError, ExceptionReason, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SAMPLE = Path("/work/shared/data/carriers/shippo_webhook_track_updated.json")


def _fixture() -> dict:
    return json.loads((FIXTURES / "shippo_failure_returned.json").read_text(encoding="utf-8"))


def test_history_with_current_status_deduplicated():
    events = shippo.parse(_fixture())
    assert [e.status for e in events] == [
        ShipmentStatus.INFO_RECEIVED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.ATTEMPT_FAILED,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.RETURNED_TO_SENDER,
    ]
    assert events[3].reason is ExceptionReason.CONSIGNEE_ADDRESS_INCORRECT
    assert events[3].action_required is True
    assert events[4].carrier_code == "UNKNOWN"
    assert events[4].mapped is False


def test_event_id_is_stable_and_changes_with_a_new_status():
    payload = _fixture()
    assert shippo.event_id(payload) == shippo.event_id(json.loads(json.dumps(payload)))
    newer = _fixture()
    newer["data"]["tracking_status"]["status_date"] = "2026-12-01T09:00:00Z"
    assert shippo.event_id(newer) != shippo.event_id(payload)


def test_substatus_does_not_override_a_delivery():
    payload = _fixture()
    last = payload["data"]["tracking_status"]
    last.update(
        {
            "status": "DELIVERED",
            "substatus": {"code": "information_received", "action_required": True},
        }
    )
    final = shippo.parse(payload)[-1]
    assert final.status is ShipmentStatus.DELIVERED
    assert final.action_required is False


def test_missing_data_is_a_parse_error():
    with pytest.raises(CarrierParseError, match=r"\$\.data: missing"):
        shippo.parse({"event": "track_updated"})


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared carrier samples not present")
def test_documented_sample_parses():
    payload = json.loads(SAMPLE.read_text(encoding="utf-8"))
    (event,) = shippo.parse(payload)  # history and current status are the same update
    assert shippo.tracking_ref(payload) == ("usps", "9205590164917312751089")
    assert event.status is ShipmentStatus.DELIVERED
    assert event.location.city == "Las Vegas"
