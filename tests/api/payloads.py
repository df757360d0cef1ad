"""Request bodies as a store would send them."""

from __future__ import annotations

import copy
from typing import Any

ORDER: dict[str, Any] = {
    "external_id": "gid://shop/Order/1001",
    "number": "1001",
    "placed_at": "2026-11-20T15:30:00Z",
    "currency": "USD",
    "customer": {
        "external_id": "cust-1",
        "email": "alice@example.com",
        "phone": "+14155550123",
        "first_name": "Alice",
        "last_name": "Ng",
        "language": "en",
    },
    "shipping_address": {
        "name": "Alice Ng",
        "address1": "1 Main St",
        "city": "New York",
        "region": "NY",
        "postcode": "10001",
        "country": "US",
    },
    "lines": [
        {
            "external_id": "line-1",
            "sku": "SOCK-1",
            "title": "Merino sock",
            "quantity": 2,
            "unit_price": "18.00",
        },
        {
            "external_id": "line-2",
            "sku": "CAP-1",
            "title": "Wool cap",
            "quantity": 1,
            "unit_price": "25.50",
        },
    ],
    "shipping_total": "5.00",
    "discount_codes": ["WELCOME10"],
}


def order(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(ORDER)
    body.update(overrides)
    return body


def order_jp(**overrides: Any) -> dict[str, Any]:
    """The look-alike Japanese store's order: same number 1001, yen, no minor unit."""
    body = order(
        currency="JPY",
        shipping_total="0",
        shipping_address={"postcode": "150-0001", "country": "JP", "city": "Shibuya"},
        customer={"external_id": "cust-1", "email": "alice@example.com", "phone": "090-1234-5678"},
        lines=[
            {
                "external_id": "line-1",
                "sku": "SOCK-1",
                "title": "メリノソックス",
                "quantity": 2,
                "unit_price": "1800",
            }
        ],
    )
    body.update(overrides)
    return body
