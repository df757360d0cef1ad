"""Error codes of the store-data app, and the error that carries several field messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from postpurchase.errors import DomainError


class CommerceErrorCode(StrEnum):
    INVALID_INPUT = "validation_error"
    UNKNOWN_PRODUCT = "unknown_product"
    CUSTOMER_EMAIL_TAKEN = "customer_email_taken"
    ORDER_NUMBER_TAKEN = "order_number_taken"
    LINE_ALREADY_SHIPPED = "line_already_shipped"
    ORDER_NOT_FOUND = "order_not_found"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    PRODUCT_NOT_FOUND = "product_not_found"
    ORDER_ALREADY_CANCELLED = "order_already_cancelled"


class InvalidInputError(DomainError):
    """Input that breaks one or more rules; `fields` maps dotted paths (`lines.0.quantity`)
    to messages, so an API client can point at each bad value."""

    def __init__(
        self,
        fields: Mapping[str, Sequence[str]],
        message: str = "",
        *,
        code: StrEnum | str = CommerceErrorCode.INVALID_INPUT,
    ) -> None:
        first = next(iter(fields.items()), ("", [""]))
        super().__init__(
            code,
            message or "The request has invalid fields.",
            field=first[0] or None,
        )
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in fields.items()}
