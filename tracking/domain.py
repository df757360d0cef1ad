"""Our own tracking vocabulary: the three-layer status model and the parsed event type.

Carrier adapters translate outside formats into these; nothing past the adapter sees a carrier's
format. See ARCHITECTURE.md, "Shipment status model".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.utils.translation import gettext_lazy as _


class ShipmentStatus(StrEnum):
    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    ATTEMPT_FAILED = "attempt_failed"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNING_TO_SENDER = "returning_to_sender"
    RETURNED_TO_SENDER = "returned_to_sender"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])


STATUS_LABELS = {
    ShipmentStatus.PENDING: _("Pending"),
    ShipmentStatus.INFO_RECEIVED: _("Label created"),
    ShipmentStatus.IN_TRANSIT: _("In transit"),
    ShipmentStatus.OUT_FOR_DELIVERY: _("Out for delivery"),
    ShipmentStatus.AVAILABLE_FOR_PICKUP: _("Ready for pickup"),
    ShipmentStatus.ATTEMPT_FAILED: _("Delivery attempt failed"),
    ShipmentStatus.DELIVERED: _("Delivered"),
    ShipmentStatus.EXCEPTION: _("Exception"),
    ShipmentStatus.RETURNING_TO_SENDER: _("Returning to sender"),
    ShipmentStatus.RETURNED_TO_SENDER: _("Returned to sender"),
    ShipmentStatus.CANCELLED: _("Cancelled"),
    ShipmentStatus.EXPIRED: _("Expired"),
}


class ExceptionReason(StrEnum):
    """Why a parcel is late, stuck or failed, grouped by who caused it (prefix before the dot)."""

    NONE = ""
    CARRIER_DAMAGED = "carrier.damaged"
    CARRIER_LOST = "carrier.lost"
    CARRIER_MISSORTED = "carrier.missorted"
    CARRIER_CAPACITY = "carrier.capacity"
    CARRIER_VEHICLE = "carrier.vehicle"
    CARRIER_OTHER = "carrier.other"
    CONSIGNEE_NOT_HOME = "consignee.not_home"
    CONSIGNEE_REFUSED = "consignee.refused"
    CONSIGNEE_ADDRESS_INCORRECT = "consignee.address_incorrect"
    CONSIGNEE_BUSINESS_CLOSED = "consignee.business_closed"
    CUSTOMS_DELAY = "customs.delay"
    CUSTOMS_DOCUMENTS = "customs.documents"
    CUSTOMS_DUTIES_UNPAID = "customs.duties_unpaid"
    WEATHER = "weather"
    RETAILER = "retailer"
    OTHER = "other"


class Lifecycle(StrEnum):
    """Where the whole shipment is, derived by precedence over all its events."""

    PRE_TRANSIT = "pre_transit"
    TRANSIT = "transit"
    CUSTOMS = "customs"
    LAST_MILE = "last_mile"
    READY_TO_COLLECT = "ready_to_collect"
    DELIVERED = "delivered"
    SENT_BACK = "sent_back"
    RETURNED = "returned"
    FAILED = "failed"


@dataclass(frozen=True)
class Location:
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""  # ISO 3166-1 alpha-2 where known


@dataclass(frozen=True)
class ParsedEvent:
    """One carrier scan in our terms, as an adapter returns it."""

    carrier: str
    tracking_number: str
    occurred_at: datetime  # aware; the carrier's time of the scan
    status: ShipmentStatus
    carrier_code: str  # the carrier's own code, verbatim
    carrier_text: str  # the carrier's own description, verbatim
    reason: ExceptionReason = ExceptionReason.NONE
    action_required: bool = False
    location: Location = field(default_factory=Location)
    mapped: bool = True  # False when no table knew carrier_code (kept, mapped to a safe status)
    mapping_version: str = ""
    estimated_delivery: datetime | None = None  # the carrier's own ETA, when it gives one


class CarrierParseError(ValueError):
    """An outside payload that an adapter cannot turn into events; the message says why."""
