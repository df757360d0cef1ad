"""FedEx Track API v1 adapter."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracking.carriers import fedex
from tracking.domain import CarrierParseError, ExceptionReason, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SAMPLE = Path("/work/shared/data/carriers/fedex_track_api_v1_response_karrio.json")


def _fixture() -> dict:
    return json.loads((FIXTURES / "fedex_delivery_exception.json").read_text(encoding="utf-8"))


def _by_code(code: str):
    return next(e for e in fedex.parse(_fixture()) if e.carrier_code == code)


def test_journey_in_carrier_time_with_the_scan_offsets_kept():
    events = fedex.parse(_fixture())
    assert [e.carrier_code for e in events] == ["OC", "PU", "QZ", "SE", "DE", "OD", "DL"]
    assert events[1].occurred_at == datetime(
        2026, 11, 21, 19, 2, tzinfo=timezone(timedelta(hours=-8))
    )
    assert events[-1].status is ShipmentStatus.DELIVERED
    assert {e.tracking_number for e in events} == {"986578788855"}


def test_delivery_exception_is_a_failed_attempt_with_the_reason_from_its_text():
    attempt = _by_code("DE")
    assert attempt.status is ShipmentStatus.ATTEMPT_FAILED
    assert attempt.reason is ExceptionReason.CONSIGNEE_BUSINESS_CLOSED
    assert attempt.carrier_text == "Delivery exception - Customer not available or business closed"


def test_weather_delay_detail_sets_the_reason():
    delayed = _by_code("SE")
    assert delayed.status is ShipmentStatus.EXCEPTION
    assert delayed.reason is ExceptionReason.WEATHER


def test_unknown_event_type_is_kept_unmapped_as_in_transit():
    unknown = _by_code("QZ")
    assert unknown.mapped is False
    assert unknown.status is ShipmentStatus.IN_TRANSIT
    assert unknown.location.city == "MEMPHIS"


def test_estimated_window_end_is_the_eta():
    assert _by_code("PU").estimated_delivery == datetime(
        2026, 11, 24, 20, 0, tzinfo=timezone(timedelta(hours=-5))
    )


def test_a_not_found_result_adds_no_events():
    payload = _fixture()
    payload["output"]["completeTrackResults"] = payload["output"]["completeTrackResults"][1:]
    assert fedex.parse(payload) == []


def test_error_document_is_a_parse_error():
    with pytest.raises(CarrierParseError, match=r"NOT\.AUTHORIZED"):
        fedex.parse({"errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "Unauthorized"}]})


def test_scan_without_a_date_names_its_path():
    payload = _fixture()
    del payload["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"][2]["date"]
    with pytest.raises(CarrierParseError, match=r"scanEvents\[2\]\.date: missing"):
        fedex.parse(payload)


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared carrier samples not present")
def test_documented_sample_parses():
    (event,) = fedex.parse(json.loads(SAMPLE.read_text(encoding="utf-8")))
    assert event.tracking_number == "128667043726"
    assert event.status is ShipmentStatus.IN_TRANSIT
    assert event.occurred_at.utcoffset() == timedelta(hours=-7)
    assert event.location.postcode == "98101"


# FedEx Track API "Tracking Status Codes" (movement and regulatory event types).
DOCUMENTED_EVENT_TYPES = (
    "AA AC AD AF AO AP AR AX CA CH DD DE DL DP DR DS DY EA ED EO EP FD HL HP IT IX LO OC OD OF"
    " OW OX PD PF PL PM PU PX RR RM RC RS RP LP RG RD SE SF SP TR CC CD CP"
)


def test_every_documented_event_type_is_mapped():
    assert [c for c in DOCUMENTED_EVENT_TYPES.split() if c not in fedex.CODE_TABLE] == []


def test_return_label_expiry_is_not_a_return_to_sender():
    payload = _fixture()
    scan = payload["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"][0]
    scan.update({"eventType": "RD", "derivedStatusCode": "RD"})
    assert fedex.parse(payload)[-1].status is ShipmentStatus.CANCELLED
