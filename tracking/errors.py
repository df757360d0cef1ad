"""Error codes of the tracking app."""

from enum import StrEnum


class TrackingErrorCode(StrEnum):
    INVALID_SHIPMENT = "validation_error"
    SHIPMENT_NOT_FOUND = "shipment_not_found"
    ORDER_CANCELLED = "order_cancelled"
    LINE_NOT_IN_ORDER = "line_not_in_order"
    LINE_OVER_SHIPPED = "line_over_shipped"
    INVALID_ESTIMATE = "invalid_estimate"
