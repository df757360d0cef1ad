"""How a shipment reads to a shopper: progress, an honest headline, what happens next, dates in
the shopper's language and the destination's time zone, and the masked delivery address.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel.core import get_global
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _

from commerce.models import Order
from tracking.domain import ExceptionReason, ShipmentStatus
from tracking.models import Shipment, TrackingEvent

# The four steps of the progress bar and the step each status has reached.
STEPS = ("ordered", "shipped", "out_for_delivery", "delivered")
STATUS_STEP = {
    ShipmentStatus.PENDING: 0,
    ShipmentStatus.INFO_RECEIVED: 0,
    ShipmentStatus.IN_TRANSIT: 1,
    ShipmentStatus.EXCEPTION: 1,
    ShipmentStatus.RETURNING_TO_SENDER: 1,
    ShipmentStatus.RETURNED_TO_SENDER: 1,
    ShipmentStatus.CANCELLED: 0,
    ShipmentStatus.EXPIRED: 1,
    ShipmentStatus.OUT_FOR_DELIVERY: 2,
    ShipmentStatus.ATTEMPT_FAILED: 2,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 2,
    ShipmentStatus.DELIVERED: 3,
}
TROUBLE = {
    ShipmentStatus.EXCEPTION,
    ShipmentStatus.ATTEMPT_FAILED,
    ShipmentStatus.RETURNING_TO_SENDER,
    ShipmentStatus.RETURNED_TO_SENDER,
    ShipmentStatus.CANCELLED,
    ShipmentStatus.EXPIRED,
}


def step_labels() -> list[str]:
    return [
        pgettext("progress step", "Ordered"),
        pgettext("progress step", "Shipped"),
        pgettext("progress step", "Out for delivery"),
        pgettext("progress step", "Delivered"),
    ]


def status_label(status: str) -> str:
    return _status_labels(get_language())[status] if status in STATUS_STEP else _("On its way")


def event_label(status: str) -> str:
    return _event_labels(get_language())[status] if status in STATUS_STEP else _("Update")


@lru_cache(maxsize=16)
def _status_labels(language: str) -> dict[str, str]:
    """Per language: every status's headline, translated once (labels are asked per event)."""
    labels = {
        ShipmentStatus.PENDING: _("Preparing your parcel"),
        ShipmentStatus.INFO_RECEIVED: _("Label created, waiting for the carrier"),
        ShipmentStatus.IN_TRANSIT: _("On its way"),
        ShipmentStatus.OUT_FOR_DELIVERY: _("Out for delivery today"),
        ShipmentStatus.AVAILABLE_FOR_PICKUP: _("Ready for pickup"),
        ShipmentStatus.ATTEMPT_FAILED: _("Delivery attempt failed"),
        ShipmentStatus.DELIVERED: _("Delivered"),
        ShipmentStatus.EXCEPTION: _("There is a problem with this delivery"),
        ShipmentStatus.RETURNING_TO_SENDER: _("Returning to the sender"),
        ShipmentStatus.RETURNED_TO_SENDER: _("Returned to the sender"),
        ShipmentStatus.CANCELLED: _("Shipment cancelled"),
        ShipmentStatus.EXPIRED: _("No news from the carrier"),
    }
    return {str(key): str(value) for key, value in labels.items()}


@lru_cache(maxsize=16)
def _event_labels(language: str) -> dict[str, str]:
    labels = {
        ShipmentStatus.PENDING: _("Order received"),
        ShipmentStatus.INFO_RECEIVED: _("Shipping label created"),
        ShipmentStatus.IN_TRANSIT: _("In transit"),
        ShipmentStatus.OUT_FOR_DELIVERY: _("Out for delivery"),
        ShipmentStatus.AVAILABLE_FOR_PICKUP: _("Ready for pickup"),
        ShipmentStatus.ATTEMPT_FAILED: _("Delivery attempted"),
        ShipmentStatus.DELIVERED: _("Delivered"),
        ShipmentStatus.EXCEPTION: _("Delivery exception"),
        ShipmentStatus.RETURNING_TO_SENDER: _("Returning to sender"),
        ShipmentStatus.RETURNED_TO_SENDER: _("Returned to sender"),
        ShipmentStatus.CANCELLED: _("Cancelled"),
        ShipmentStatus.EXPIRED: _("Tracking expired"),
    }
    return {str(key): str(value) for key, value in labels.items()}


def _reason_message(reason: str) -> str:
    group = reason.split(".", 1)[0]
    if reason == ExceptionReason.CONSIGNEE_NOT_HOME:
        return _(
            "The driver could not hand the parcel over. The carrier will try again on the next "
            "working day, or you can choose another day or a pickup point on the carrier's site."
        )
    if reason == ExceptionReason.CONSIGNEE_ADDRESS_INCORRECT:
        return _(
            "The carrier could not find the address. Please contact us so we can correct it; "
            "the parcel is held meanwhile."
        )
    if reason == ExceptionReason.CARRIER_DAMAGED:
        return _(
            "The carrier reported the parcel as damaged. We are looking into it and will contact "
            "you with a replacement or a refund."
        )
    if reason == ExceptionReason.CARRIER_LOST:
        return _(
            "The carrier has lost track of the parcel. We are on it and will send a replacement "
            "or a refund if it does not turn up."
        )
    if group == "customs":
        return _(
            "The parcel is held at customs. Most customs checks clear within a few days; if "
            "duties or documents are needed, the carrier will contact you."
        )
    if group == "weather":
        return _("Bad weather is slowing deliveries in the area. The parcel will continue as soon "
                 "as it is safe.")  # fmt: skip
    return _(
        "The carrier reported a problem. We are watching this parcel and will contact you if "
        "anything is needed from you."
    )


@dataclass(frozen=True)
class Situation:
    """The honest summary at the top of a shipment card."""

    tone: str  # "ok", "late" or "trouble"
    message: str


def situation(shipment: Shipment, *, today: date, language: str) -> Situation | None:
    """What to tell the shopper beyond the status: late, or in trouble, and what happens next."""
    status = ShipmentStatus(shipment.status)
    if status in TROUBLE:
        if status is ShipmentStatus.RETURNING_TO_SENDER:
            return Situation("trouble", _(
                "The parcel is on its way back to us. Once it arrives we will refund you or "
                "send it again; contact us to choose."
            ))  # fmt: skip
        if status is ShipmentStatus.EXPIRED:
            return Situation("trouble", _(
                "The carrier has not scanned the parcel for a long time. We have asked the "
                "carrier and will contact you with a replacement or a refund if needed."
            ))  # fmt: skip
        if status is ShipmentStatus.CANCELLED:
            return Situation("trouble", _("This shipment was cancelled. Contact us if this is "
                                          "unexpected."))  # fmt: skip
        return Situation("trouble", _reason_message(shipment.status_reason))
    if status is ShipmentStatus.DELIVERED:
        return None
    promised = shipment.promise_date or shipment.estimate_window_end
    if promised is not None and today > promised:
        return Situation("late", _(
            "Your parcel is later than we promised. It is still moving; the new estimate is "
            "below, and we will tell you as soon as it is out for delivery."
        ))  # fmt: skip
    first = shipment.first_promise_date
    if first is not None and promised is not None and promised > first:
        return Situation("late", _(
            "The delivery date has moved from %(first)s. We are sorry for the wait."
        ) % {"first": format_day(first, language=language, style="long")})  # fmt: skip
    return None


def progress(shipment: Shipment) -> tuple[int, int]:
    """(step reached, percent of the bar filled)."""
    step = STATUS_STEP.get(ShipmentStatus(shipment.status), 0)
    return step, round(step * 100 / (len(STEPS) - 1))


def destination_time_zone(*, shipment: Shipment | None, order: Order | None, fallback: str) -> str:
    """The destination's zone: the country's only zone, else the shopper's, else the store's."""
    country = shipment.destination_country if shipment is not None else ""
    if not country and order is not None:
        country = order.shipping_country
    zones: list[str] = get_global("territory_zones").get(country.upper(), []) if country else []
    customer_zone = order.customer.time_zone if order is not None else ""
    if len(zones) == 1:
        return zones[0]
    if customer_zone and (not zones or customer_zone in zones):
        return customer_zone
    return zones[0] if zones and not fallback else fallback


def babel_locale(language: str) -> str:
    return {"en": "en_US", "ja": "ja_JP"}.get(language, language.replace("-", "_"))


@lru_cache(maxsize=32)
def _medium_datetime(locale_code: str) -> tuple[Locale, str, Any, Any]:
    """The locale, and the parts of its "medium" date-time format, looked up once."""
    locale = Locale.parse(locale_code)
    glue = str(babel_dates.get_datetime_format("medium", locale=locale)).replace("'", "")
    return locale, glue, locale.date_formats["medium"], locale.time_formats["medium"]


def format_when(moment: datetime, *, zone: str, language: str) -> str:
    """What `babel.dates.format_datetime(moment, "medium", tzinfo=zone, locale=...)` gives,
    with the locale and its patterns looked up once instead of on every call (a page formats
    a dozen of these)."""
    locale, glue, date_pattern, time_pattern = _medium_datetime(babel_locale(language))
    if moment.tzinfo is None:  # Babel reads a naive date-time as UTC
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return glue.replace("{0}", time_pattern.apply(local, locale)).replace(
        "{1}", date_pattern.apply(local.date(), locale)
    )


def format_day(day: date, *, language: str, style: str = "full") -> str:
    return babel_dates.format_date(day, format=style, locale=babel_locale(language))


def format_window(start: date, end: date, *, language: str) -> str:
    if start == end:
        return format_day(start, language=language)
    return babel_dates.format_interval(start, end, skeleton="MMMEd", locale=babel_locale(language))


def event_place(event: TrackingEvent) -> str:
    return ", ".join(part for part in (event.city, event.region, event.country) if part)


def mask(value: str, *, keep: int = 1) -> str:
    """'Springfield' -> 'S••••••••••'; short values are masked whole."""
    value = value.strip()
    if len(value) <= keep + 1:
        return "•" * len(value)
    return value[:keep] + "•" * (len(value) - keep)


def masked_address(order: Order) -> list[str]:
    """The delivery address, enough to recognise it, not enough to use it."""
    name = " ".join(mask(part) for part in order.shipping_name.split())
    street = mask(order.shipping_address1, keep=2) if order.shipping_address1 else ""
    postcode = order.shipping_postcode
    masked_postcode = postcode[:2] + "•" * max(len(postcode) - 2, 0) if postcode else ""
    lines = [
        name,
        street,
        f"{order.shipping_city} {masked_postcode}".strip(),
        order.shipping_country,
    ]
    return [line for line in lines if line]


# --- Cards: everything one shipment's fragment shows ------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    when: str  # formatted in the shopper's language and the destination's zone
    iso: str  # the <time datetime> value
    label: str
    detail: str
    place: str


@dataclass(frozen=True)
class CardView:
    public_id: str
    carrier: str
    tracking_number: str
    status: str
    headline: str
    step: int
    percent: int
    situation: Situation | None
    window: str
    window_start: date | None
    promise: str
    estimate_updated: str
    estimate_updated_iso: str
    delivered: str
    timeline: list[TimelineRow]
    items: list[object]
    carrier_url: str | None
    is_delivered: bool


def card_view(
    card: object, *, language: str, zone: str, today: date, carrier_url: str | None
) -> CardView:
    """Display values of one shipment card (`card` is a selectors.ShipmentCard)."""
    shipment: Shipment = card.shipment  # type: ignore[attr-defined]
    events: list[TrackingEvent] = card.events  # type: ignore[attr-defined]
    step, percent = progress(shipment)
    start, end = shipment.estimate_window_start, shipment.estimate_window_end
    updated = shipment.estimate_updated_at
    return CardView(
        public_id=shipment.public_id,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        status=shipment.status,
        headline=status_label(shipment.status),
        step=step,
        percent=percent,
        situation=situation(shipment, today=today, language=language),
        window=format_window(start, end, language=language) if start and end else "",
        window_start=start if start and end else None,
        promise=format_day(shipment.promise_date, language=language, style="long")
        if shipment.promise_date
        else "",
        estimate_updated=format_when(updated, zone=zone, language=language) if updated else "",
        estimate_updated_iso=updated.isoformat() if updated else "",
        delivered=format_when(shipment.delivered_at, zone=zone, language=language)
        if shipment.delivered_at
        else "",
        timeline=[
            TimelineRow(
                when=format_when(event.occurred_at, zone=zone, language=language),
                iso=event.occurred_at.isoformat(),
                label=event_label(event.status),
                detail=event.carrier_text,
                place=event_place(event),
            )
            for event in events
        ],
        items=list(card.items),  # type: ignore[attr-defined]
        carrier_url=carrier_url,
        is_delivered=shipment.status == ShipmentStatus.DELIVERED,
    )
