"""Writes to the store's data: order upsert (with its customer, products and lines) and cancel.

`order_upsert` is idempotent by the store's external order id: the same payload twice changes
nothing and publishes nothing; a changed payload updates and publishes `order.updated`.

Unknown products: a line names its product by SKU. A SKU the catalogue lacks is created from the
line when the line carries a title (price = the line's unit price, currency = the order's);
a line with an unknown SKU and no title is a field error on `lines.N.sku`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from commerce.errors import CommerceErrorCode, InvalidInputError
from commerce.models import Customer, Order, OrderLine, OrderStatus, Product
from commerce.validation import (
    amount_error,
    country_error,
    currency_error,
    language_error,
    phone_normalise,
    time_zone_error,
    utc_datetime,
)
from postpurchase import outbox
from postpurchase.errors import DomainError
from postpurchase.models import Merchant

# Concurrent first-time upserts of the same order race on the unique constraints; the loser's
# savepoint rolls back and it retries, now reading the winner's committed rows.
_UPSERT_ATTEMPTS = 3


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
class OrderUpsertResult:
    order: Order
    created: bool
    changed: bool  # False for a replay of what is already stored
    changed_fields: tuple[str, ...] = ()


# --- validation ------------------------------------------------------------------------------


@dataclass
class _Errors:
    fields: dict[str, list[str]] = field(default_factory=dict)

    def add(self, path: str, message: str | None) -> None:
        if message:
            self.fields.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            raise InvalidInputError(self.fields)


def _clean_customer(raw: CustomerInput, *, region: str, errors: _Errors) -> CustomerInput:
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


def _clean_order(payload: OrderInput) -> OrderInput:
    """Check every rule, collecting all field messages; return the normalised input."""
    errors = _Errors()
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


# --- writes ----------------------------------------------------------------------------------


def _assign(obj: Any, values: dict[str, Any]) -> list[str]:
    """Set the attributes that differ; return their names."""
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


def _customer_upsert(*, merchant: Merchant, data: CustomerInput) -> tuple[Customer, list[str]]:
    """Find the shopper by external id, else by email; create or update them."""
    scoped = Customer.objects.for_merchant(merchant).select_for_update()
    customer = _customer_find(scoped, data)
    values: dict[str, Any] = {"external_id": data.external_id, "email": data.email}
    # Optional details: an order that omits them keeps what is known.
    for name in ("first_name", "last_name", "phone", "language", "time_zone", "birthday"):
        if getattr(data, name):
            values[name] = getattr(data, name)
    if customer is not None and not data.external_id:
        values["external_id"] = customer.external_id
    if customer is not None and not data.email:
        values["email"] = customer.email
    holders = Customer.objects.for_merchant(merchant).filter(email=values["email"])
    if customer is not None:
        holders = holders.exclude(pk=customer.pk)
    if customer is None and values["email"] and holders.exists():
        # A concurrent upsert of the same shopper may have committed since the lookup (each
        # statement sees what is committed when it starts): look again before calling it a clash.
        customer = _customer_find(scoped, data)
        if customer is not None:
            values["external_id"] = data.external_id or customer.external_id
            values["email"] = data.email or customer.email
            return _customer_update(customer, values)
    if values["email"] and holders.exists():
        raise InvalidInputError(
            {"customer.email": ["This email belongs to another customer of this store."]}
        )
    if customer is None:
        return Customer.objects.create(merchant=merchant, **values), ["customer"]
    return _customer_update(customer, values)


def _customer_find(scoped: Any, data: CustomerInput) -> Customer | None:
    """The shopper by external id, else by an email no other store customer id holds."""
    customer = None
    if data.external_id:
        customer = scoped.filter(external_id=data.external_id).first()
    if customer is None and data.email:
        customer = scoped.filter(email=data.email).first()
        if customer is not None and customer.external_id and data.external_id:
            customer = None  # that email belongs to another store customer
    return customer


def _customer_update(customer: Customer, values: dict[str, Any]) -> tuple[Customer, list[str]]:
    changed = _assign(customer, values)
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return customer, [f"customer.{name}" for name in changed]


def _products_for_lines(
    *, merchant: Merchant, currency: str, lines: Sequence[OrderLineInput]
) -> dict[str, Product]:
    """The catalogue entry of every line's SKU, creating those a line can describe."""
    skus = sorted({line.sku for line in lines})
    # Locked in SKU order, so concurrent upserts touching the same products cannot deadlock.
    products = {
        p.sku: p
        for p in Product.objects.for_merchant(merchant)
        .select_for_update()
        .filter(sku__in=skus)
        .order_by("sku")
    }
    errors = _Errors()
    for i, line in enumerate(lines):
        if line.sku in products:
            continue
        if not line.title:
            errors.add(
                f"lines.{i}.sku",
                f"Unknown product '{line.sku}': add it to the catalogue first, "
                "or give the line a title so it can be created.",
            )
            continue
        products[line.sku] = Product.objects.create(
            merchant=merchant,
            sku=line.sku,
            title=line.title,
            category=line.category,
            price=line.unit_price,
            currency=currency,
            url=line.product_url,
            image_url=line.image_url,
            returnable=line.returnable,
        )
    if errors.fields:
        raise InvalidInputError(
            errors.fields,
            "Some lines name products the catalogue does not have.",
            code=CommerceErrorCode.UNKNOWN_PRODUCT,
        )
    return products


def _order_values(data: OrderInput, customer: Customer) -> dict[str, Any]:
    address = data.shipping_address
    return {
        "number": data.number,
        "customer": customer,
        "placed_at": data.placed_at,
        "currency": data.currency,
        "subtotal": data.subtotal,
        "shipping_total": data.shipping_total,
        "tax_total": data.tax_total,
        "discount_total": data.discount_total,
        "total": data.total,
        "discount_codes": list(data.discount_codes),
        "language": data.language,
        "shipping_name": address.name,
        "shipping_address1": address.address1,
        "shipping_address2": address.address2,
        "shipping_city": address.city,
        "shipping_region": address.region,
        "shipping_postcode": address.postcode,
        "shipping_country": address.country,
        "shipping_method": data.shipping_method,
    }


def _lines_sync(
    *, order: Order, lines: Sequence[OrderLineInput], products: dict[str, Product]
) -> list[str]:
    """Make the order's lines match the input; return 'lines.<external_id>' for each change."""
    existing = {line.external_id: line for line in order.lines.select_for_update().order_by("pk")}
    changed: list[str] = []
    for item in lines:
        product = products[item.sku]
        values = {
            "product": product,
            "sku": item.sku,
            "title": item.title or product.title,
            "quantity": item.quantity,
            "unit_price": item.unit_price,
            "final_sale": item.final_sale,
        }
        current = existing.pop(item.external_id, None)
        if current is None:
            OrderLine.objects.create(
                merchant=order.merchant, order=order, external_id=item.external_id, **values
            )
            changed.append(f"lines.{item.external_id}")
        elif names := _assign(current, values):
            current.save(update_fields=names)
            changed.append(f"lines.{item.external_id}")
    if existing:
        shipped = OrderLine.objects.filter(
            pk__in=[line.pk for line in existing.values()], shipments__isnull=False
        ).values_list("external_id", flat=True)
        if shipped:
            raise DomainError(
                CommerceErrorCode.LINE_ALREADY_SHIPPED,
                f"Lines already shipped cannot be removed: {', '.join(sorted(shipped))}.",
                field="lines",
            )
        OrderLine.objects.filter(pk__in=[line.pk for line in existing.values()]).delete()
        changed.extend(f"lines.{external_id}" for external_id in sorted(existing))
    return changed


def _order_upsert_once(*, merchant: Merchant, data: OrderInput) -> OrderUpsertResult:
    order = (
        Order.objects.for_merchant(merchant)
        .select_for_update()
        .filter(external_id=data.external_id)
        .first()
    )
    customer, changed = _customer_upsert(merchant=merchant, data=data.customer)
    products = _products_for_lines(merchant=merchant, currency=data.currency, lines=data.lines)
    values = _order_values(data, customer)
    number_taken = (
        Order.objects.for_merchant(merchant)
        .filter(number=data.number)
        .exclude(external_id=data.external_id)
        .exists()
    )
    if number_taken:
        raise DomainError(
            CommerceErrorCode.ORDER_NUMBER_TAKEN,
            f"Order number {data.number} already belongs to another order of this store.",
            field="number",
        )
    created = order is None
    if order is None:
        order = Order.objects.create(merchant=merchant, external_id=data.external_id, **values)
        changed = []
    else:
        order_changes = _assign(order, values)
        if order_changes:
            order.save(update_fields=[*order_changes, "updated_at"])
        changed = [*changed, *order_changes]
    changed += _lines_sync(order=order, lines=data.lines, products=products)
    if created:
        outbox.publish(
            merchant=merchant,
            type="order.created",
            subject=f"order:{order.pk}",
            data=_order_event_data(order),
        )
    elif changed:
        Order.objects.filter(pk=order.pk).update(updated_at=timezone.now())
        outbox.publish(
            merchant=merchant,
            type="order.updated",
            subject=f"order:{order.pk}",
            data={**_order_event_data(order), "changed_fields": sorted(set(changed))},
        )
    return OrderUpsertResult(
        order=order,
        created=created,
        changed=created or bool(changed),
        changed_fields=tuple(changed),
    )


def _order_event_data(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.pk,
        "external_id": order.external_id,
        "number": order.number,
        "customer_id": order.customer_id,
        "status": order.status,
        "currency": order.currency,
        "total": str(order.total),
        "placed_at": order.placed_at.isoformat(),
    }


def order_upsert(*, merchant: Merchant, payload: OrderInput) -> OrderUpsertResult:
    """Create or update an order from the store's payload, idempotent by its external id."""
    data = _clean_order(payload)
    for attempt in range(_UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                return _order_upsert_once(merchant=merchant, data=data)
        except IntegrityError:
            if attempt == _UPSERT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


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


@dataclass(frozen=True)
class ProductUpsertResult:
    product: Product
    created: bool
    changed: bool


def _clean_product(payload: ProductInput) -> ProductInput:
    errors = _Errors()
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


def product_upsert(*, merchant: Merchant, payload: ProductInput) -> ProductUpsertResult:
    """Create or update a catalogue product by SKU; publishes `product.created`/`.updated`."""
    data = _clean_product(payload)
    values = {
        "title": data.title,
        "price": data.price,
        "currency": data.currency,
        "category": data.category.strip(),
        "url": data.url.strip(),
        "image_url": data.image_url.strip(),
        "returnable": data.returnable,
        "in_stock": data.in_stock,
        "replenishment_days": data.replenishment_days,
    }
    for attempt in range(_UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                product = (
                    Product.objects.for_merchant(merchant)
                    .select_for_update()
                    .filter(sku=data.sku)
                    .first()
                )
                if product is None:
                    product = Product.objects.create(merchant=merchant, sku=data.sku, **values)
                    event, changed = "product.created", ["sku"]
                else:
                    event, changed = "product.updated", _assign(product, values)
                    if changed:
                        product.save(update_fields=[*changed, "updated_at"])
                if changed:
                    outbox.publish(
                        merchant=merchant,
                        type=event,
                        subject=f"product:{product.pk}",
                        data={"product_id": product.pk, "sku": product.sku, "changed": changed},
                    )
                return ProductUpsertResult(
                    product=product, created=event == "product.created", changed=bool(changed)
                )
        except IntegrityError:
            if attempt == _UPSERT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@transaction.atomic
def order_cancel(*, order: Order, reason: str = "") -> Order:
    """Mark an order cancelled and publish `order.cancelled`; cancelling twice is a no-op."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status == OrderStatus.CANCELLED:
        return locked
    locked.status = OrderStatus.CANCELLED
    locked.save(update_fields=["status", "updated_at"])
    outbox.publish(
        merchant=locked.merchant,
        type="order.cancelled",
        subject=f"order:{locked.pk}",
        data={**_order_event_data(locked), "reason": reason},
    )
    return locked
