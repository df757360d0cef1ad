"""EasyPost tracker webhook adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracking.carriers import easypost, fedex
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
    # carrier_code is UPS's own code as EasyPost passes it on, not EasyPost's status.
    assert [(e.carrier_code, e.status) for e in events] == [
        ("MP", ShipmentStatus.INFO_RECEIVED),
        ("AR", ShipmentStatus.IN_TRANSIT),
        ("UX", ShipmentStatus.EXCEPTION),
        ("ZZ", ShipmentStatus.IN_TRANSIT),
        ("RS", ShipmentStatus.RETURNING_TO_SENDER),
    ]
    assert events[2].reason is ExceptionReason.CONSIGNEE_ADDRESS_INCORRECT
    assert events[3].mapped is False
    assert all(e.carrier == "ups" for e in events)


def test_a_bare_tracker_is_accepted():
    assert easypost.parse(_fixture()["result"]) == easypost.parse(_fixture())


def test_without_a_carrier_code_the_easypost_detail_is_the_code():
    payload = _fixture()
    for detail in payload["result"]["tracking_details"]:
        detail["carrier_code"] = None
    codes = [e.carrier_code for e in easypost.parse(payload)]
    assert codes == [
        "label_created",
        "arrived_at_facility",
        "address_correction",
        "unknown",
        "return",
    ]


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared carrier samples not present")
def test_same_scan_via_easypost_and_fedex_has_the_same_identity():
    fedex_payload = json.loads(
        (FIXTURES / "fedex_delivery_exception.json").read_text(encoding="utf-8")
    )
    scan = fedex_payload["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"][5]
    scan.update(
        {
            "date": "2024-07-31T18:35:00-04:00",
            "eventType": "AR",
            "derivedStatusCode": "AR",
            "eventDescription": "Arrived at FedEx location",
            "scanLocation": {
                "city": "ORLANDO",
                "stateOrProvinceCode": "FL",
                "postalCode": "32809",
                "countryCode": "US",
            },
        }
    )
    direct = next(e for e in fedex.parse(fedex_payload) if e.carrier_code == "AR")
    via_easypost = [
        e
        for e in easypost.parse(json.loads(SAMPLE.read_text(encoding="utf-8")))
        if e.occurred_at == direct.occurred_at
    ]
    assert len(via_easypost) == 1
    same = via_easypost[0]
    assert (same.carrier, same.carrier_code, same.location) == ("fedex", "AR", direct.location)


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
