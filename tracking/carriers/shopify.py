"""Shopify fulfillments (`fulfillments/create`, `fulfillments/update` webhooks) and fulfillment
event resources to our events.

A fulfillment has `tracking_company`, `tracking_numbers[]` (or `tracking_number`),
`shipment_status` (the carrier status Shopify or a tracking app set), `status` and `updated_at`;
one event is made per tracking number when `shipment_status` is set, and a `cancelled`
fulfillment gives a cancelled event. A fulfillment event resource (`{"fulfillment_event": {...}}`
or a bare one with `fulfillment_id`) has `status`, `message`, `happened_at`, `city`, `province`,
`zip`, `country`, `estimated_delivery_at`; its tracking reference travels in `tracking_number`
and `tracking_company` when the sender adds them (our app does), else it cannot be placed.
`carrier_code` is Shopify's status value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracking.carriers import local_time
from tracking.carriers.code_table import CodeTable, R, S, mapping
from tracking.carriers.payload import (
    JsonObject,
    array,
    as_object,
    as_text,
    country_alpha2,
    obj,
    required_text,
    text,
)
from tracking.domain import CarrierParseError, Location, ParsedEvent
from tracking.tracking_numbers import candidate_carriers, carrier_slug, normalise_number

SOURCE_KIND = "store"
CODE_TABLE_VERSION = "shopify-2026.11"

# `shipment_status` / FulfillmentEvent `status` (Shopify Admin API, FulfillmentEvent.status).
CODE_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "label_printed": mapping(S.INFO_RECEIVED),
        "label_purchased": mapping(S.INFO_RECEIVED),
        "confirmed": mapping(S.INFO_RECEIVED),
        "carrier_picked_up": mapping(S.IN_TRANSIT),
        "in_transit": mapping(S.IN_TRANSIT),
        "delayed": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        "out_for_delivery": mapping(S.OUT_FOR_DELIVERY),
        "attempted_delivery": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),
        "ready_for_pickup": mapping(S.AVAILABLE_FOR_PICKUP, action=True),
        "picked_up": mapping(S.DELIVERED),
        "delivered": mapping(S.DELIVERED),
        "failure": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        "cancelled": mapping(S.CANCELLED),
    },
    fallback=mapping(S.IN_TRANSIT),
)


def _carrier(company: str, number: str) -> str:
    if company.strip():
        return carrier_slug(company)
    candidates = candidate_carriers(number)
    return candidates[0].carrier if candidates else "unknown"


def _is_event_resource(root: JsonObject) -> bool:
    return "fulfillment_event" in root or "fulfillment_id" in root


def _event_resource(root: JsonObject) -> tuple[JsonObject, str]:
    if "fulfillment_event" in root:
        return as_object(root["fulfillment_event"], "$.fulfillment_event"), "$.fulfillment_event"
    return root, "$"


def _numbers(fulfillment: JsonObject) -> list[str]:
    numbers = [
        normalise_number(as_text(item, f"$.tracking_numbers[{i}]"))
        for i, item in enumerate(array(fulfillment, "tracking_numbers", "$"))
    ]
    single = normalise_number(text(fulfillment, "tracking_number", "$"))
    if single and single not in numbers:
        numbers.append(single)
    return [number for number in numbers if number]


def tracking_ref(payload: Any) -> tuple[str, str]:
    """(our carrier slug, first tracking number) of a fulfillment or fulfillment event."""
    root = as_object(payload, "Shopify payload")
    item, where = _event_resource(root) if _is_event_resource(root) else (root, "$")
    numbers = _numbers(item)
    if not numbers:
        raise CarrierParseError(f"{where}.tracking_numbers: missing (nothing to track)")
    return _carrier(text(item, "tracking_company", where), numbers[0]), numbers[0]


def event_id(payload: Any) -> str:
    """A stable id from the payload (prefer the X-Shopify-Webhook-Id header where there is one)."""
    root = as_object(payload, "Shopify payload")
    if _is_event_resource(root):
        item, where = _event_resource(root)
        return f"shopify_event_{required_text(item, 'id', where)}"
    fulfillment_id = required_text(root, "id", "$")
    state = text(root, "shipment_status", "$") or text(root, "status", "$")
    return f"shopify_fulfillment_{fulfillment_id}_{text(root, 'updated_at', '$')}_{state}"


def _parse_fulfillment(root: JsonObject) -> list[ParsedEvent]:
    required_text(root, "id", "$")  # every fulfillment has one; without it this is not one
    shipment_status = text(root, "shipment_status", "$").strip()
    status = text(root, "status", "$").strip()
    code = shipment_status or ("cancelled" if status == "cancelled" else "")
    if not code:
        return []  # fulfilled with no carrier status yet: the shipment exists, nothing happened
    numbers = _numbers(root)
    if not numbers:
        raise CarrierParseError(
            "$.tracking_numbers: missing (a fulfillment with a status needs one)"
        )
    destination = obj(root, "destination", "$")
    place = Location(
        city=text(destination, "city", "$.destination").strip(),
        region=text(destination, "province_code", "$.destination").strip(),
        postcode=text(destination, "zip", "$.destination").strip(),
        country=country_alpha2(text(destination, "country_code", "$.destination")),
    )
    when = text(root, "updated_at", "$") or text(root, "created_at", "$")
    occurred_at = local_time.parse_timestamp(when, "$.updated_at", location=place)
    lookup = CODE_TABLE.lookup(code)
    company = text(root, "tracking_company", "$")
    return [
        ParsedEvent(
            carrier=_carrier(company, number),
            tracking_number=number,
            occurred_at=occurred_at,
            status=lookup.mapping.status,
            carrier_code=code,
            carrier_text=code.replace("_", " "),
            reason=lookup.mapping.reason,
            action_required=lookup.mapping.action_required,
            # A fulfillment says where it is going, not where the parcel was scanned.
            location=Location(),
            mapped=lookup.mapped,
            mapping_version=CODE_TABLE_VERSION,
        )
        for number in numbers
    ]


def _parse_event_resource(root: JsonObject) -> list[ParsedEvent]:
    item, where = _event_resource(root)
    code = required_text(item, "status", where)
    carrier, number = tracking_ref(root)
    location = Location(
        city=text(item, "city", where).strip(),
        region=text(item, "province", where).strip(),
        postcode=text(item, "zip", where).strip(),
        country=country_alpha2(text(item, "country", where)),
    )
    eta_text = text(item, "estimated_delivery_at", where)
    eta: datetime | None = None
    if eta_text:
        eta = local_time.parse_timestamp(eta_text, f"{where}.estimated_delivery_at")
    lookup = CODE_TABLE.lookup(code)
    when = text(item, "happened_at", where) or text(item, "created_at", where)
    return [
        ParsedEvent(
            carrier=carrier,
            tracking_number=number,
            occurred_at=local_time.parse_timestamp(when, f"{where}.happened_at", location=location),
            status=lookup.mapping.status,
            carrier_code=code,
            carrier_text=text(item, "message", where) or code.replace("_", " "),
            reason=lookup.mapping.reason,
            action_required=lookup.mapping.action_required,
            location=location,
            mapped=lookup.mapped,
            mapping_version=CODE_TABLE_VERSION,
            estimated_delivery=eta,
        )
    ]


def parse(payload: Any) -> list[ParsedEvent]:
    """Our events from a Shopify fulfillment or fulfillment event."""
    root = as_object(payload, "Shopify payload")
    if _is_event_resource(root):
        return _parse_event_resource(root)
    return _parse_fulfillment(root)
