"""The plain types the messaging engine speaks: who to tell, what about, and what a channel sends.

Apps hand `notification_enqueue` a `Recipient` and a frozen dataclass of plain data; templates
see only that data (converted to dicts and strings), never a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Recipient:
    """A person to tell, with every contact point we may use and their own preferences."""

    name: str = ""
    first_name: str = ""
    email: str = ""
    phone: str = ""
    language: str = ""
    time_zone: str = ""  # the customer's own zone; a destination zone in the context wins
    customer_ref: str = ""


@dataclass(frozen=True)
class ItemLine:
    title: str
    quantity: int = 1
    image_url: str = ""


@dataclass(frozen=True)
class ShipmentNotice:
    """The context of every delivery trigger (order confirmed … delivered).

    `tracking_ref` is the shipment's public id: the engine turns it into a signed tracking link.
    `destination_time_zone` is the zone of the delivery address, used for quiet hours first.
    """

    order_number: str
    items: tuple[ItemLine, ...] = ()
    carrier: str = ""
    tracking_number: str = ""
    tracking_ref: str = ""
    status: str = ""
    reason: str = ""
    action_required: bool = False
    estimate_start: date | None = None
    estimate_end: date | None = None
    previous_estimate_start: date | None = None
    previous_estimate_end: date | None = None
    pickup_location: str = ""
    destination_city: str = ""
    destination_time_zone: str = ""
    occurred_at: datetime | None = None
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class OutgoingMessage:
    """What a channel needs to send one message; built from a ledger row."""

    message_id: int
    merchant_id: int
    channel: str
    to_address: str
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    link_url: str = ""
    push_keys: tuple[tuple[str, str], ...] = ()  # p256dh and auth for web push
    merchant_slug: str = ""


@dataclass(frozen=True)
class SendResult:
    """A provider accepted the message; `provider_message_id` ties later webhooks to it."""

    provider: str
    provider_message_id: str = ""
