"""DHL Shipment Tracking - Unified adapter."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tracking.carriers import dhl
from tracking.domain import CarrierParseError, ExceptionReason, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SAMPLE = Path("/work/shared/data/carriers/dhl_unified_tracking_response_karrio.json")


def _fixture() -> dict:
    return json.loads((FIXTURES / "dhl_customs_failure_delivered.json").read_text(encoding="utf-8"))


def test_statuses_refined_from_the_texts():
    events = dhl.parse(_fixture())
    assert [e.status for e in events] == [
        ShipmentStatus.INFO_RECEIVED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.IN_TRANSIT,  # unknown statusCode
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.OUT_FOR_DELIVERY,  # "transit" + "out with courier for delivery"
        ShipmentStatus.DELIVERED,
    ]


def test_failure_reason_and_action_come_from_the_description():
    failure = next(e for e in dhl.parse(_fixture()) if e.carrier_code == "failure")
    assert failure.reason is ExceptionReason.CUSTOMS_DUTIES_UNPAID
    assert failure.action_required is True


def test_unknown_status_code_is_kept_unmapped():
    unknown = next(e for e in dhl.parse(_fixture()) if e.carrier_code == "somethingnew")
    assert unknown.mapped is False
    assert unknown.carrier_text == "Shipment scanned by a new device type"


def test_local_times_take_the_zone_of_the_scan_country():
    events = dhl.parse(_fixture())
    assert events[0].occurred_at == datetime(
        2026, 11, 22, 10, 15, tzinfo=ZoneInfo("Europe/Amsterdam")
    )
    assert events[-1].occurred_at.utcoffset() == timedelta(hours=9)  # Tokyo
    assert events[1].occurred_at.utcoffset() == timedelta(hours=1)  # given offset kept
    assert events[-1].estimated_delivery == datetime(
        2026, 11, 25, 18, tzinfo=timezone(timedelta(hours=9))
    )


def test_problem_document_is_a_parse_error():
    with pytest.raises(CarrierParseError, match="404: No shipment"):
        dhl.parse({"title": "No shipment with given tracking number found.", "status": 404})


def test_shipment_without_id_is_a_parse_error():
    payload = _fixture()
    del payload["shipments"][0]["id"]
    with pytest.raises(CarrierParseError, match=r"shipments\[0\]\.id: missing"):
        dhl.parse(payload)


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared carrier samples not present")
def test_documented_sample_parses():
    (event,) = dhl.parse(json.loads(SAMPLE.read_text(encoding="utf-8")))
    assert event.tracking_number == "7777777770"
    assert event.carrier_code == "pre-transit"
    assert event.location.country == "NL"
    assert event.occurred_at == datetime(2018, 3, 2, 7, 53, 47, tzinfo=ZoneInfo("Europe/Amsterdam"))
