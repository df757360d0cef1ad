"""Console screens for the store's data, scoped to the staff user's merchants."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from commerce.models import Customer, Order, OrderLine, Product
from postpurchase.admin_sites import (
    Access,
    TenantModelAdmin,
    TenantTabularInline,
    console_site,
)
from postpurchase.models import MerchantRole

# Marketers curate the catalogue; ops staff only read it.
CATALOGUE_ACCESS: Mapping[str, Access] = {
    MerchantRole.OWNER: Access.FULL,
    MerchantRole.ADMIN: Access.FULL,
    MerchantRole.MARKETER: Access.CHANGE,
    MerchantRole.OPS: Access.VIEW,
}


@admin.register(Customer, site=console_site)
class CustomerAdmin(TenantModelAdmin):
    ordering = ["-created_at", "-pk"]
    list_display = ["__str__", "email", "phone", "language", "created_at"]
    list_filter = ["language"]
    search_fields = ["email", "phone", "first_name", "last_name", "external_id"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["merchant", "external_id", "first_name", "last_name", "birthday"]}),
        (_("Contact"), {"fields": ["email", "phone", "language", "time_zone"]}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]


@admin.register(Product, site=console_site)
class ProductAdmin(TenantModelAdmin):
    role_access = CATALOGUE_ACCESS
    ordering = ["sku"]
    list_display = ["sku", "title", "category", "price", "currency", "returnable", "in_stock"]
    list_filter = ["category", "returnable", "in_stock"]
    search_fields = ["sku", "title", "category"]
    readonly_fields = ["created_at", "updated_at"]


class OrderLineInline(TenantTabularInline):
    model = OrderLine
    extra = 0
    fields = ["external_id", "product", "sku", "title", "quantity", "unit_price", "final_sale"]
    autocomplete_fields = ["product"]


@admin.register(Order, site=console_site)
class OrderAdmin(TenantModelAdmin):
    ordering = ["-placed_at", "-pk"]
    list_display = ["number", "customer", "status", "placed_at", "total", "currency"]
    list_filter = ["status", "currency", "shipping_country"]
    search_fields = ["number", "external_id", "customer__email", "customer__last_name"]
    date_hierarchy = "placed_at"
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [OrderLineInline]
    fieldsets = [
        (
            None,
            {"fields": ["merchant", "number", "external_id", "customer", "status", "placed_at"]},
        ),
        (
            _("Money"),
            {
                "fields": [
                    "currency",
                    "subtotal",
                    "shipping_total",
                    "tax_total",
                    "discount_total",
                    "total",
                    "discount_codes",
                ]
            },
        ),
        (
            _("Shipping"),
            {
                "fields": [
                    "shipping_name",
                    "shipping_address1",
                    "shipping_address2",
                    "shipping_city",
                    "shipping_region",
                    "shipping_postcode",
                    "shipping_country",
                    "shipping_method",
                    "language",
                ]
            },
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Orders come from the store (API or Shopify) through `order_upsert`, which publishes
        # `order.created`; the console corrects them but does not invent them.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Orders are the store's record; cancel them (status) rather than delete them.
        return False
