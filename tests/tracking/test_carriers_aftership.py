"""AfterShip tracking_update webhook adapter."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tracking.carriers import aftership
from tracking.domain import CarrierParseError, ExceptionReason, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SAMPLE = Path("/work/shared/data/carriers/aftership_webhook_tracking_update_trimmed.json")


def _fixture() -> dict:
    return json.loads((FIXTURES / "aftership_customs_returned.json").read_text(encoding="utf-8"))


def test_event_id_and_tracking_ref():
    assert aftership.event_id(_fixture()) == "3f1b0a5e-2d1c-4c8e-9a55-6f7e1c2b9d10"
    assert aftership.tracking_ref(_fixture()) == ("japan_post", "EE123456785JP")


def test_subtags_map_to_reasons_and_returns():
    events = {e.carrier_code: e for e in aftership.parse(_fixture())}
    held = events["Exception_006"]
    assert held.status is ShipmentStatus.EXCEPTION
    assert held.reason is ExceptionReason.CUSTOMS_DUTIES_UNPAID
    assert held.action_required is True
    assert events["Exception_011"].status is ShipmentStatus.RETURNED_TO_SENDER


def test_unknown_subtag_falls_back_to_its_tag_and_unknown_tag_is_unmapped():
    events = {e.carrier_code: e for e in aftership.parse(_fixture())}
    assert events["Exception_099"].status is ShipmentStatus.EXCEPTION
    assert events["Exception_099"].mapped is True
    assert events["Teleported_001"].mapped is False
    assert events["Teleported_001"].status is ShipmentStatus.IN_TRANSIT


def test_local_checkpoint_time_takes_the_country_zone_from_iso3():
    events = {e.carrier_code: e for e in aftership.parse(_fixture())}
    departed = events["InTransit_007"]
    assert departed.location.country == "JP"
    assert departed.occurred_at.utcoffset() == timedelta(hours=9)
    assert events["Exception_006"].location.country == "US"


def test_missing_msg_is_a_parse_error():
    with pytest.raises(CarrierParseError, match=r"\$\.msg: missing"):
        aftership.parse({"event": "tracking_update", "event_id": "x"})


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared carrier samples not present")
def test_documented_sample_parses():
    payload = json.loads(SAMPLE.read_text(encoding="utf-8"))
    (event,) = aftership.parse(payload)
    assert aftership.event_id(payload) == "94dadd60-ed26-46d0-aa52-3ced925a50ff"
    assert event.carrier == "usps"
    assert event.carrier_code == "InTransit_001"
    assert event.status is ShipmentStatus.IN_TRANSIT
