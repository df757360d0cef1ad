"""Shopify fulfillment and fulfillment event adapter."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tracking.carriers import shopify
from tracking.domain import CarrierParseError, ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_fulfillment_status_gives_one_event_per_tracking_number():
    events = shopify.parse(_load("shopify_fulfillment_update.json"))
    assert [(e.carrier, e.tracking_number) for e in events] == [
        ("ups", "1Z5R89390357567127"),
        ("ups", "1Z879E930346834440"),
    ]
    assert {e.status for e in events} == {ShipmentStatus.OUT_FOR_DELIVERY}
    assert events[0].occurred_at == datetime(
        2026, 11, 24, 8, 12, tzinfo=timezone(timedelta(hours=-5))
    )


def test_fulfillment_without_shipment_status_has_nothing_to_say():
    payload = _load("shopify_fulfillment_update.json")
    payload["shipment_status"] = None
    assert shopify.parse(payload) == []


def test_cancelled_fulfillment_is_a_cancelled_event():
    payload = _load("shopify_fulfillment_update.json")
    payload.update({"shipment_status": None, "status": "cancelled"})
    assert {e.status for e in shopify.parse(payload)} == {ShipmentStatus.CANCELLED}


def test_missing_company_is_guessed_from_the_number_format():
    payload = _load("shopify_fulfillment_update.json")
    payload.update({"tracking_company": None, "tracking_numbers": ["9400111201080805483016"]})
    payload.pop("tracking_number")
    (event,) = shopify.parse(payload)
    assert event.carrier == "usps"


def test_fulfillment_event_resource():
    payload = _load("shopify_fulfillment_event.json")
    (event,) = shopify.parse(payload)
    assert event.status is ShipmentStatus.ATTEMPT_FAILED
    assert event.carrier_text == "Delivery attempted: no one home"
    assert event.location.city == "Brooklyn"
    assert shopify.event_id(payload) == "shopify_event_9990001"


def test_event_ids_differ_per_update():
    first = _load("shopify_fulfillment_update.json")
    second = _load("shopify_fulfillment_update.json")
    second.update({"shipment_status": "delivered", "updated_at": "2026-11-24T15:00:00-05:00"})
    assert shopify.event_id(first) != shopify.event_id(second)


def test_status_without_tracking_number_is_a_parse_error():
    payload = _load("shopify_fulfillment_update.json")
    payload.update({"tracking_numbers": [], "tracking_number": None})
    with pytest.raises(CarrierParseError, match="tracking_numbers: missing"):
        shopify.parse(payload)
