"""The store's data as callers hand it to the commerce services, and the rules that clean it.

Each `*_clean` checks every rule of one input, collects every message under its dotted field path
(`lines.0.sku`) and raises one `InvalidInputError`, or returns the normalised input the services
write. Field-level rules (ISO codes, money precision, phone numbers) live in `validation.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from commerce.errors import InvalidInputError
from commerce.validation import (
    amount_error,
    country_error,
    currency_error,
    language_error,
    phone_normalise,
    time_zone_error,
    utc_datetime,
)


@dataclass(frozen=True)
class CustomerInput:
    """The shopper as the store knows them; identified by external_id, else by email."""

    external_id: str = ""
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    language: str = ""
    time_zone: str = ""
    birthday: date | None = None


@dataclass(frozen=True)
class AddressInput:
    country: str
    name: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""


@dataclass(frozen=True)
class OrderLineInput:
    external_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    title: str = ""
    final_sale: bool = False
    # Catalogue details used only when the SKU is new to the platform.
    category: str = ""
    product_url: str = ""
    image_url: str = ""
    returnable: bool = True


@dataclass(frozen=True)
class OrderInput:
    external_id: str
    number: str
    placed_at: datetime
    currency: str
    customer: CustomerInput
    shipping_address: AddressInput
    lines: Sequence[OrderLineInput]
    shipping_total: Decimal = Decimal("0")
    tax_total: Decimal = Decimal("0")
    discount_total: Decimal = Decimal("0")
    subtotal: Decimal | None = None  # computed from the lines when not given
    total: Decimal | None = None  # subtotal + shipping + tax - discount when not given
    discount_codes: Sequence[str] = field(default_factory=tuple)
    language: str = ""
    shipping_method: str = ""


@dataclass(frozen=True)
class ProductInput:
    """A catalogue entry as the store sends it; identified by SKU."""

    sku: str
    title: str
    price: Decimal
    currency: str
    category: str = ""
    url: str = ""
    image_url: str = ""
    returnable: bool = True
    in_stock: bool = True
    replenishment_days: int | None = None


@dataclass
class FieldErrors:
    fields: dict[str, list[str]] = field(default_factory=dict)

    def add(self, path: str, message: str | None) -> None:
        if message:
            self.fields.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise InvalidInputError(self.fields)


def _clean_customer(raw: CustomerInput, *, region: str, errors: FieldErrors) -> CustomerInput:
    email = raw.email.strip().lower()
    external_id = raw.external_id.strip()
    if not email and not external_id:
        errors.add("customer", "Give the customer an external_id or an email.")
    if email and ("@" not in email or email.startswith("@") or email.endswith("@")):
        errors.add("customer.email", "Enter a valid email address.")
    phone = ""
    if raw.phone.strip():
        phone, message = phone_normalise(raw.phone.strip(), region=region)
        errors.add("customer.phone", message)
    if raw.language:
        errors.add("customer.language", language_error(raw.language))
    if raw.time_zone:
        errors.add("customer.time_zone", time_zone_error(raw.time_zone))
    return CustomerInput(
        external_id=external_id,
        email=email,
        phone=phone,
        first_name=raw.first_name.strip(),
        last_name=raw.last_name.strip(),
        language=raw.language,
        time_zone=raw.time_zone,
        birthday=raw.birthday,
    )


def order_clean(payload: OrderInput) -> OrderInput:
    """Check every rule, collecting all field messages; return the normalised input."""
    errors = FieldErrors()
    currency = payload.currency.strip().upper()
    errors.add("currency", currency_error(currency))
    if not payload.external_id.strip():
        errors.add("external_id", "Required.")
    if not payload.number.strip():
        errors.add("number", "Required.")
    placed_at, message = utc_datetime(payload.placed_at)
    errors.add("placed_at", message)
    country = payload.shipping_address.country.strip().upper()
    errors.add("shipping_address.country", country_error(country))
    if payload.language:
        errors.add("language", language_error(payload.language))
    customer = _clean_customer(payload.customer, region=country, errors=errors)

    for name in ("shipping_total", "tax_total", "discount_total", "subtotal", "total"):
        value = getattr(payload, name)
        if value is not None:
            errors.add(name, amount_error(value, currency))
    if not payload.lines:
        errors.add("lines", "An order needs at least one line.")
    seen_ids: set[str] = set()
    for i, line in enumerate(payload.lines):
        if not line.external_id.strip():
            errors.add(f"lines.{i}.external_id", "Required.")
        elif line.external_id in seen_ids:
            errors.add(f"lines.{i}.external_id", "Each line needs its own external_id.")
        seen_ids.add(line.external_id)
        if not line.sku.strip():
            errors.add(f"lines.{i}.sku", "Required.")
        if line.quantity <= 0:
            errors.add(f"lines.{i}.quantity", "Must be a positive whole number.")
        errors.add(f"lines.{i}.unit_price", amount_error(line.unit_price, currency))
    errors.raise_if_any()

    subtotal = payload.subtotal
    if subtotal is None:
        subtotal = sum((line.unit_price * line.quantity for line in payload.lines), Decimal("0"))
    total = payload.total
    if total is None:
        total = subtotal + payload.shipping_total + payload.tax_total - payload.discount_total
        errors.add("total", amount_error(total, currency))
        errors.raise_if_any()
    return OrderInput(
        external_id=payload.external_id.strip(),
        number=payload.number.strip(),
        placed_at=placed_at or payload.placed_at,
        currency=currency,
        customer=customer,
        shipping_address=AddressInput(
            country=country,
            name=payload.shipping_address.name.strip(),
            address1=payload.shipping_address.address1.strip(),
            address2=payload.shipping_address.address2.strip(),
            city=payload.shipping_address.city.strip(),
            region=payload.shipping_address.region.strip(),
            postcode=payload.shipping_address.postcode.strip(),
        ),
        lines=[
            OrderLineInput(
                external_id=line.external_id.strip(),
                sku=line.sku.strip(),
                quantity=line.quantity,
                unit_price=line.unit_price,
                title=line.title.strip(),
                final_sale=line.final_sale,
                category=line.category,
                product_url=line.product_url,
                image_url=line.image_url,
                returnable=line.returnable,
            )
            for line in payload.lines
        ],
        shipping_total=payload.shipping_total,
        tax_total=payload.tax_total,
        discount_total=payload.discount_total,
        subtotal=subtotal,
        total=total,
        discount_codes=[str(c).strip() for c in payload.discount_codes if str(c).strip()],
        language=payload.language,
        shipping_method=payload.shipping_method.strip(),
    )


def product_clean(payload: ProductInput) -> ProductInput:
    errors = FieldErrors()
    currency = payload.currency.strip().upper()
    errors.add("currency", currency_error(currency))
    if not payload.sku.strip():
        errors.add("sku", "Required.")
    if not payload.title.strip():
        errors.add("title", "Required.")
    errors.add("price", amount_error(payload.price, currency))
    if payload.replenishment_days is not None and payload.replenishment_days <= 0:
        errors.add("replenishment_days", "Must be a positive number of days.")
    errors.raise_if_any()
    return replace(payload, sku=payload.sku.strip(), title=payload.title.strip(), currency=currency)
