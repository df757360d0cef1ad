"""USPS Tracking v3 adapter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracking.carriers import usps
from tracking.domain import CarrierParseError, ExceptionReason, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SAMPLE = Path("/work/shared/data/carriers/usps_tracking_v3_responses_karrio.json")


def _fixture() -> list:
    return json.loads((FIXTURES / "usps_attempt_then_pickup.json").read_text(encoding="utf-8"))


def test_notice_left_then_pickup_then_picked_up():
    events = usps.parse(_fixture())
    assert [(e.carrier_code, e.status) for e in events[-4:]] == [
        ("OF", ShipmentStatus.OUT_FOR_DELIVERY),
        ("02", ShipmentStatus.ATTEMPT_FAILED),
        ("16", ShipmentStatus.AVAILABLE_FOR_PICKUP),
        ("17", ShipmentStatus.DELIVERED),
    ]
    notice = events[-3]
    assert notice.reason is ExceptionReason.CONSIGNEE_NOT_HOME
    assert notice.action_required is True
    assert events[-2].action_required is True


def test_local_time_gets_the_gmt_offset():
    delivered = usps.parse(_fixture())[-1]
    assert delivered.occurred_at == datetime(
        2026, 11, 26, 15, 12, tzinfo=timezone(timedelta(hours=-8))
    )


def test_without_an_offset_the_exact_gmt_time_wins_over_a_guess():
    unknown = next(e for e in usps.parse(_fixture()) if e.carrier_code == "Q9")
    assert unknown.occurred_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert unknown.mapped is False
    assert unknown.status is ShipmentStatus.IN_TRANSIT


def test_a_single_response_object_is_accepted():
    assert usps.parse(_fixture()[0]) == usps.parse(_fixture())


def test_undeliverable_address_needs_the_shopper():
    payload = _fixture()
    payload[0]["trackingEvents"][0]["eventCode"] = "05"
    event = usps.parse(payload)[-1]
    assert event.status is ShipmentStatus.EXCEPTION
    assert event.reason is ExceptionReason.CONSIGNEE_ADDRESS_INCORRECT
    assert event.action_required is True


def test_error_response_and_missing_number_are_parse_errors():
    with pytest.raises(CarrierParseError, match="USPS error response 400"):
        usps.parse({"error": {"code": "400", "message": "Invalid tracking number"}})
    payload = _fixture()
    del payload[0]["trackingNumber"]
    with pytest.raises(CarrierParseError, match=r"\$\[0\]\.trackingNumber: missing"):
        usps.parse(payload)


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared carrier samples not present")
def test_documented_samples_parse():
    events = usps.parse(json.loads(SAMPLE.read_text(encoding="utf-8")))
    real = [e for e in events if e.tracking_number == "9400109104250532908587"]
    assert len(real) == 12
    assert all(e.mapped for e in real)
    assert real[0].carrier_code == "GX"
    assert real[0].status is ShipmentStatus.INFO_RECEIVED
    assert real[-1].status is ShipmentStatus.DELIVERED
    assert real[-1].occurred_at == datetime(
        2024, 11, 22, 13, 58, tzinfo=timezone(timedelta(hours=-5))
    )
