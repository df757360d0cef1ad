"""The store's data mirrored here: customers, products, orders and their lines."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from postpurchase.models import TenantModel


class Customer(TenantModel):
    external_id = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text=_("E.164, e.g. +81312345678"))
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=8, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    birthday = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "email"],
                condition=~models.Q(email=""),
                name="customer_unique_email",
            ),
            models.UniqueConstraint(
                fields=["merchant", "external_id"],
                condition=~models.Q(external_id=""),
                name="customer_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Product(TenantModel):
    sku = models.CharField(max_length=100)
    title = models.CharField(max_length=300)
    category = models.CharField(max_length=200, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    url = models.URLField(blank=True)
    image_url = models.URLField(blank=True)
    returnable = models.BooleanField(default=True)
    in_stock = models.BooleanField(default=True)
    replenishment_days = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="product_unique_sku")
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.title}"


class OrderStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CANCELLED = "cancelled", _("Cancelled")
    CLOSED = "closed", _("Closed")


class Order(TenantModel):
    number = models.CharField(max_length=64, help_text=_("The number the shopper sees."))
    external_id = models.CharField(max_length=100, help_text=_("The store's own id."))
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=12, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    placed_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tax_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    discount_codes = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=8, blank=True)
    shipping_name = models.CharField(max_length=200, blank=True)
    shipping_address1 = models.CharField(max_length=200, blank=True)
    shipping_address2 = models.CharField(max_length=200, blank=True)
    shipping_city = models.CharField(max_length=100, blank=True)
    shipping_region = models.CharField(max_length=100, blank=True)
    shipping_postcode = models.CharField(max_length=20, blank=True)
    shipping_country = models.CharField(max_length=2)
    shipping_method = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="order_unique_external_id"
            ),
            models.UniqueConstraint(fields=["merchant", "number"], name="order_unique_number"),
        ]
        indexes = [models.Index(fields=["merchant", "placed_at"], name="order_placed_idx")]

    def __str__(self) -> str:
        return self.number


class OrderLine(TenantModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    external_id = models.CharField(max_length=100)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True)
    sku = models.CharField(max_length=100)
    title = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    final_sale = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"], name="order_line_unique_external_id"
            ),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="line_quantity_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.title}"


# --- Purchase statistics (derived from order lines; kept by `commerce.stats`) -------------------
#
# What recommendations rank by, precomputed so that a page does not aggregate all the merchant's
# order lines: how many orders hold two products together, and how many units of a product were
# sold. `PurchaseCounted` records which lines each order contributed, so that a change of the
# order's lines (or its deletion) is applied as a difference, exactly once. Product references
# carry no database constraint: the rows are derived data, removed with the product by Django's
# cascade, and a difference may name a product deleted meanwhile (see `commerce.stats`).


class CoPurchase(TenantModel):
    """Orders holding both `product` and `other` (stored in both directions)."""

    pk = models.CompositePrimaryKey("product_id", "other_id")
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    other = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    orders = models.IntegerField()

    class Meta:
        # A page reads all partners of its order's products: from the index alone (PostgreSQL
        # index-only scan), not from rows spread over the table in the order they were added.
        indexes = [
            models.Index(fields=["product", "other", "orders"], name="copurchase_partners_idx")
        ]

    def __str__(self) -> str:
        return f"{self.product_id} + {self.other_id}: {self.orders}"


class ProductSales(TenantModel):
    """Units of a product in all the merchant's order lines (the category best sellers)."""

    product = models.OneToOneField(
        Product, on_delete=models.CASCADE, primary_key=True, related_name="+", db_constraint=False
    )
    quantity = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.product_id}: {self.quantity}"


class PurchaseCounted(TenantModel):
    """What an order's lines contributed to the statistics: one row per (order, product)."""

    pk = models.CompositePrimaryKey("order_id", "product_id")
    # No constraint: a deleted order's rows stay until `commerce.stats` takes its share back out.
    order = models.ForeignKey(
        Order, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    product = models.ForeignKey(
        Product, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    quantity = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.order_id}: {self.quantity} x {self.product_id}"
