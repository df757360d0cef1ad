"""Reads of the store's data, always scoped to one merchant."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from commerce.errors import CommerceErrorCode
from commerce.models import Customer, Order, OrderLine, Product
from postpurchase.errors import NotFoundError
from postpurchase.models import Merchant


def order_list(*, merchant: Merchant) -> QuerySet[Order]:
    """A merchant's orders with their customer and lines loaded (one query each)."""
    return (
        Order.objects.for_merchant(merchant)
        .select_related("customer")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("pk")))
    )


def order_get(*, merchant: Merchant, external_id: str) -> Order:
    """One order by the store's external id; another merchant's order is not found."""
    order = order_list(merchant=merchant).filter(external_id=external_id).first()
    if order is None:
        raise NotFoundError(CommerceErrorCode.ORDER_NOT_FOUND, "No such order.")
    return order


def order_get_by_number(*, merchant: Merchant, number: str) -> Order:
    order = order_list(merchant=merchant).filter(number=number).first()
    if order is None:
        raise NotFoundError(CommerceErrorCode.ORDER_NOT_FOUND, "No such order.")
    return order


def customer_list(*, merchant: Merchant) -> QuerySet[Customer]:
    return Customer.objects.for_merchant(merchant)


def customer_get(*, merchant: Merchant, external_id: str) -> Customer:
    """One customer by the store's external id."""
    customer = customer_list(merchant=merchant).filter(external_id=external_id).first()
    if customer is None or not external_id:
        raise NotFoundError(CommerceErrorCode.CUSTOMER_NOT_FOUND, "No such customer.")
    return customer


def product_list(*, merchant: Merchant) -> QuerySet[Product]:
    return Product.objects.for_merchant(merchant)


def product_get(*, merchant: Merchant, sku: str) -> Product:
    """One catalogue product by SKU."""
    product = product_list(merchant=merchant).filter(sku=sku).first()
    if product is None:
        raise NotFoundError(CommerceErrorCode.PRODUCT_NOT_FOUND, "No such product.")
    return product
