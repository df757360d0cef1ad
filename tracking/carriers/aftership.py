"""AfterShip Tracking `tracking_update` webhooks to our events.

Shape: `{event, event_id, is_tracking_first_tag, msg: Tracking, ts}`. The Tracking carries
`tracking_number`, `slug` (AfterShip's carrier slug), `tag`/`subtag`, `expected_delivery` and
`checkpoints[]`; each checkpoint has `checkpoint_time` (the local time of the checkpoint, with an
offset when the carrier gave one), `message`, `tag`, `subtag`, `subtag_message`, `city`,
`state`, `zip`, `country_iso3` (or `country_region`), `location`.

`carrier_code` is the checkpoint's `subtag` (e.g. "Exception_011"), or its `tag` when the subtag
is absent; the subtag table is tried first, then the tag table.
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
    country_alpha2,
    required_obj,
    required_text,
    text,
)
from tracking.domain import CarrierParseError, Location, ParsedEvent
from tracking.tracking_numbers import carrier_slug, normalise_number

SOURCE_KIND = "aggregator"
CODE_TABLE_VERSION = "aftership-2026.11"

# Delivery statuses (AfterShip "Delivery statuses" enum).
TAG_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "Pending": mapping(S.PENDING),
        "InfoReceived": mapping(S.INFO_RECEIVED),
        "InTransit": mapping(S.IN_TRANSIT),
        "OutForDelivery": mapping(S.OUT_FOR_DELIVERY),
        "AttemptFail": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),
        "Delivered": mapping(S.DELIVERED),
        "AvailableForPickup": mapping(S.AVAILABLE_FOR_PICKUP, action=True),
        "Exception": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        "Expired": mapping(S.EXPIRED),
    },
    fallback=mapping(S.IN_TRANSIT),
    case_sensitive=True,
)

# Delivery sub-statuses (AfterShip "Delivery sub-statuses" enum); InTransit_001..009 and the
# other plain subtags map as their tag does.
SUBTAG_TABLE = CodeTable(
    CODE_TABLE_VERSION,
    {
        "AttemptFail_001": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),
        "AttemptFail_002": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_NOT_HOME),  # addressee absent
        "AttemptFail_003": mapping(S.ATTEMPT_FAILED, R.CONSIGNEE_BUSINESS_CLOSED),
        "Exception_001": mapping(S.EXCEPTION, R.CARRIER_OTHER),
        "Exception_002": mapping(S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT, action=True),  # moved
        "Exception_003": mapping(S.EXCEPTION, R.CONSIGNEE_REFUSED),
        "Exception_004": mapping(S.EXCEPTION, R.CUSTOMS_DELAY),  # delayed (customs clearance)
        "Exception_005": mapping(S.EXCEPTION, R.OTHER),  # delayed (external factors)
        "Exception_006": mapping(
            S.EXCEPTION, R.CUSTOMS_DUTIES_UNPAID, action=True
        ),  # held for payment
        "Exception_007": mapping(S.EXCEPTION, R.CONSIGNEE_ADDRESS_INCORRECT, action=True),
        "Exception_008": mapping(S.EXCEPTION, R.CONSIGNEE_NOT_HOME, action=True),  # pickup missed
        "Exception_009": mapping(S.EXCEPTION, R.RETAILER),  # rejected by carrier
        "Exception_010": mapping(S.RETURNING_TO_SENDER),
        "Exception_011": mapping(S.RETURNED_TO_SENDER),
        "Exception_012": mapping(S.EXCEPTION, R.CARRIER_DAMAGED),
        "Exception_013": mapping(S.EXCEPTION, R.CARRIER_LOST),
        "Exception_016": mapping(S.EXCEPTION, R.CARRIER_MISSORTED),  # delayed (processing issue)
        "Exception_017": mapping(S.EXCEPTION, R.WEATHER),  # delayed (extreme weather)
        "Exception_018": mapping(S.EXCEPTION, R.CUSTOMS_DOCUMENTS, action=True),  # documents
    },
    fallback=mapping(S.IN_TRANSIT),
    case_sensitive=True,
)


def _number(raw: str) -> str:
    number = normalise_number(raw)
    if not number:
        raise CarrierParseError("tracking number: only spaces and separators")
    return number


def _tracking(payload: object) -> JsonObject:
    root = as_object(payload, "AfterShip payload")
    return required_obj(root, "msg", "$")


def event_id(payload: Any) -> str:
    """AfterShip's webhook `event_id` (a UUID), unique per notification."""
    return required_text(as_object(payload, "AfterShip payload"), "event_id", "$")


def tracking_ref(payload: Any) -> tuple[str, str]:
    """(our carrier slug, tracking number) of the tracking in the notification."""
    tracking = _tracking(payload)
    return (
        carrier_slug(required_text(tracking, "slug", "$.msg")),
        _number(required_text(tracking, "tracking_number", "$.msg")),
    )


def _event(
    checkpoint: JsonObject, where: str, carrier: str, number: str, eta: datetime | None
) -> ParsedEvent:
    tag = text(checkpoint, "tag", where).strip()
    subtag = text(checkpoint, "subtag", where).strip()
    if not tag and not subtag:
        raise CarrierParseError(f"{where}: no tag or subtag")
    found = SUBTAG_TABLE.get(subtag) if subtag else None
    if found is None:
        found = TAG_TABLE.get(tag or subtag.split("_")[0])
    location = Location(
        city=text(checkpoint, "city", where).strip(),
        region=text(checkpoint, "state", where).strip(),
        postcode=text(checkpoint, "zip", where).strip(),
        country=country_alpha2(
            text(checkpoint, "country_region", where) or text(checkpoint, "country_iso3", where)
        ),
    )
    own_slug = text(checkpoint, "slug", where).strip()
    return ParsedEvent(
        carrier=carrier_slug(own_slug) if own_slug else carrier,
        tracking_number=number,
        occurred_at=local_time.parse_timestamp(
            text(checkpoint, "checkpoint_time", where),
            f"{where}.checkpoint_time",
            location=location,
        ),
        status=(found or TAG_TABLE.fallback).status,
        carrier_code=subtag or tag,
        carrier_text=text(checkpoint, "message", where)
        or text(checkpoint, "subtag_message", where),
        reason=(found or TAG_TABLE.fallback).reason,
        action_required=(found or TAG_TABLE.fallback).action_required,
        location=location,
        mapped=found is not None,
        mapping_version=CODE_TABLE_VERSION,
        estimated_delivery=eta,
    )


def _eta(tracking: JsonObject) -> datetime | None:
    value = text(tracking, "expected_delivery", "$.msg")
    return local_time.parse_timestamp(value, "$.msg.expected_delivery") if value else None


def parse(payload: Any) -> list[ParsedEvent]:
    """Every checkpoint of the tracking in an AfterShip notification, oldest first."""
    tracking = _tracking(payload)
    carrier, number = tracking_ref(payload)
    eta = _eta(tracking)
    events = []
    for index, item in enumerate(array(tracking, "checkpoints", "$.msg")):
        where = f"$.msg.checkpoints[{index}]"
        events.append(_event(as_object(item, where), where, carrier, number, eta))
    events.sort(key=lambda event: event.occurred_at)
    return events
