"""Writes to the store's data: order upsert (with its customer, products and lines) and cancel.

`order_upsert` is idempotent by the store's external order id: the same payload twice changes
nothing and publishes nothing; a changed payload updates and publishes `order.updated`.

Unknown products: a line names its product by SKU. A SKU the catalogue lacks is created from the
line when the line carries a title (price = the line's unit price, currency = the order's);
a line with an unknown SKU and no title is a field error on `lines.N.sku`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from commerce.errors import CommerceErrorCode, InvalidInputError
from commerce.inputs import (
    CustomerInput,
    FieldErrors,
    OrderInput,
    OrderLineInput,
    ProductInput,
    order_clean,
    product_clean,
)
from commerce.models import Customer, Order, OrderLine, OrderStatus, Product
from postpurchase import outbox
from postpurchase.errors import DomainError
from postpurchase.models import Merchant

# Concurrent first-time upserts of the same order race on the unique constraints; the loser's
# savepoint rolls back and it retries, now reading the winner's committed rows.
_UPSERT_ATTEMPTS = 3


@dataclass(frozen=True)
class OrderUpsertResult:
    order: Order
    created: bool
    changed: bool  # False for a replay of what is already stored
    changed_fields: tuple[str, ...] = ()


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
    errors = FieldErrors()
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
    data = order_clean(payload)
    for attempt in range(_UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                return _order_upsert_once(merchant=merchant, data=data)
        except IntegrityError:
            if attempt == _UPSERT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class ProductUpsertResult:
    product: Product
    created: bool
    changed: bool


def product_upsert(*, merchant: Merchant, payload: ProductInput) -> ProductUpsertResult:
    """Create or update a catalogue product by SKU; publishes `product.created`/`.updated`."""
    data = product_clean(payload)
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
