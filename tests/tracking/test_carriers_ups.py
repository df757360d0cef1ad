"""UPS Track API adapter: mapping, times with and without gmtOffset, unknown codes, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tracking.carriers import ups
from tracking.domain import CarrierParseError, ExceptionReason, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SAMPLE = Path("/work/shared/data/carriers/ups_track_api_v1_response_karrio.json")


def _fixture() -> dict:
    return json.loads((FIXTURES / "ups_exception_then_delivered.json").read_text(encoding="utf-8"))


def test_fixture_journey_maps_every_milestone_in_carrier_time_order():
    events = ups.parse(_fixture())
    assert [e.status for e in events] == [
        ShipmentStatus.INFO_RECEIVED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.EXCEPTION,
        ShipmentStatus.ATTEMPT_FAILED,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.DELIVERED,
    ]
    assert {e.tracking_number for e in events} == {"1Z5R89390357567127"}
    assert all(e.mapping_version == "ups-2026.11" for e in events)


def test_exception_text_gives_reason_and_action():
    incorrect = next(e for e in ups.parse(_fixture()) if e.carrier_code == "UX")
    assert incorrect.reason is ExceptionReason.CONSIGNEE_ADDRESS_INCORRECT
    assert incorrect.action_required is True
    assert incorrect.carrier_text.startswith("The address is incorrect.")


def test_gmt_offset_is_applied_to_local_time():
    pickup = next(e for e in ups.parse(_fixture()) if e.carrier_code == "OR")
    assert pickup.occurred_at == datetime(
        2026, 11, 21, 18, 30, tzinfo=timezone(timedelta(hours=-8))
    )


def test_zone_derived_from_zip_where_state_spans_two_zones():
    # El Paso (ZIP3 799) keeps Mountain time although Texas is mostly Central.
    delivered = next(e for e in ups.parse(_fixture()) if e.status is ShipmentStatus.DELIVERED)
    assert delivered.occurred_at.utcoffset() == timedelta(hours=-7)
    assert delivered.location.city == "EL PASO"
    assert delivered.location.postcode == "79901"


def test_unknown_code_is_kept_verbatim_and_unmapped():
    unknown = next(e for e in ups.parse(_fixture()) if e.carrier_code == "ZZ")
    assert unknown.mapped is False
    assert unknown.status is ShipmentStatus.IN_TRANSIT
    assert unknown.carrier_text == "A brand new scan UPS has not documented yet"


def test_scheduled_delivery_date_becomes_the_eta():
    events = ups.parse(_fixture())
    assert events[0].estimated_delivery == datetime(
        2026, 11, 24, 20, 0, tzinfo=ZoneInfo("America/Denver")
    )


def test_package_without_activity_gives_no_events():
    payload = _fixture()
    payload["trackResponse"]["shipment"] = payload["trackResponse"]["shipment"][1:]
    assert ups.parse(payload) == []


def test_error_response_is_a_parse_error_with_the_carrier_message():
    payload = {"response": {"errors": [{"code": "151018", "message": "Invalid tracking number"}]}}
    with pytest.raises(CarrierParseError, match="151018: Invalid tracking number"):
        ups.parse(payload)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date", "2026-11-21", "expected YYYYMMDD"),
        ("date", "20261341", "invalid date"),
        ("gmtOffset", "+99:00", "UTC offset"),
        ("status", "DELIVERED", "expected an object"),
    ],
)
def test_malformed_activity_fields_name_the_path(field, value, message):
    payload = _fixture()
    payload["trackResponse"]["shipment"][0]["package"][0]["activity"][0][field] = value
    with pytest.raises(CarrierParseError, match=message) as error:
        ups.parse(payload)
    assert "activity[0]" in str(error.value)


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared carrier samples not present")
def test_documented_sample_parses():
    events = ups.parse(json.loads(SAMPLE.read_text(encoding="utf-8")))
    assert [(e.carrier_code, e.status) for e in events] == [
        ("MP", ShipmentStatus.INFO_RECEIVED),
        ("F4", ShipmentStatus.DELIVERED),
    ]
    assert events[1].occurred_at == datetime(
        2022, 1, 26, 16, 30, tzinfo=ZoneInfo("America/New_York")
    )
    assert events[0].occurred_at.tzinfo is UTC  # no region given: UTC, as documented


# Every code of UPS's "Status/Description Codes" list (codes 0-169 less those UPS left unused).
DOCUMENTED_STATUS_CODES = [0, 3, 5, 6, 7, *range(10, 15), *range(16, 31), *range(32, 150)]
DOCUMENTED_STATUS_CODES += list(range(153, 170))


def test_every_documented_status_code_is_mapped():
    missing = [c for c in DOCUMENTED_STATUS_CODES if f"{c:03d}" not in ups.STATUS_CODE_TABLE]
    assert missing == []


@pytest.mark.parametrize(
    ("status_code", "status"),
    [
        ("037", ShipmentStatus.OUT_FOR_DELIVERY),  # listed as "Out for Delivery"
        ("40", ShipmentStatus.AVAILABLE_FOR_PICKUP),  # unpadded as some responses send it
        ("034", ShipmentStatus.RETURNED_TO_SENDER),
        ("007", ShipmentStatus.CANCELLED),
        ("161", ShipmentStatus.AVAILABLE_FOR_PICKUP),
    ],
)
def test_status_codes_decide_the_milestone(status_code, status):
    payload = _fixture()
    activity = payload["trackResponse"]["shipment"][0]["package"][0]["activity"][0]
    activity["status"].update({"type": "I", "code": "XX", "statusCode": status_code})
    assert ups.parse(payload)[-1].status is status


@pytest.mark.parametrize(
    ("activity_code", "reason", "action"),
    [
        ("55", ExceptionReason.CONSIGNEE_BUSINESS_CLOSED, False),
        ("1C", ExceptionReason.CUSTOMS_DUTIES_UNPAID, True),
        ("45", ExceptionReason.CARRIER_DAMAGED, False),
        ("34", ExceptionReason.CARRIER_MISSORTED, False),
    ],
)
def test_exception_activity_codes_give_the_reason(activity_code, reason, action):
    payload = _fixture()
    activity = payload["trackResponse"]["shipment"][0]["package"][0]["activity"][0]
    activity["status"].update(
        {"type": "X", "code": activity_code, "statusCode": "013", "description": "Exception"}
    )
    event = ups.parse(payload)[-1]
    assert event.status is ShipmentStatus.EXCEPTION
    assert (event.reason, event.action_required) == (reason, action)
