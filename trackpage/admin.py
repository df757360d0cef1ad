"""Console screens of the tracking page: blocks, engagement per order, ratings, conversions."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from postpurchase.admin_sites import (
    STORE_DATA_ACCESS,
    Access,
    TenantModelAdmin,
    console_site,
    user_roles,
)
from postpurchase.models import MerchantRole
from trackpage import services
from trackpage.models import (
    Conversion,
    DeliveryRating,
    LinkClick,
    LinkKind,
    MerchantPageBlock,
    OrderEngagement,
    PageView,
)

# Marketers own the page's marketing blocks; ops staff see but do not change them.
MARKETING_ACCESS: Mapping[str, Access] = {
    MerchantRole.OWNER: Access.FULL,
    MerchantRole.ADMIN: Access.FULL,
    MerchantRole.MARKETER: Access.FULL,
    MerchantRole.OPS: Access.VIEW,
}
# Measured engagement is read-only for everyone.
REPORT_ACCESS: Mapping[str, Access] = {role: Access.VIEW for role in MerchantRole.values}


@admin.register(MerchantPageBlock, site=console_site)
class MerchantPageBlockAdmin(TenantModelAdmin):
    role_access = MARKETING_ACCESS
    list_display = ["__str__", "kind", "placement", "language", "is_active", "starts_at", "ends_at"]
    list_filter = ["kind", "placement", "is_active"]
    list_editable = ["is_active"]
    fields = [
        "merchant",
        "kind",
        "placement",
        "title",
        "html",
        "link_url",
        "link_label",
        "language",
        "position",
        "is_active",
        "starts_at",
        "ends_at",
    ]


def _count(model: Any, **filters: Any) -> Coalesce:
    rows = (
        model.objects.filter(order=OuterRef("pk"), **filters)
        .order_by()
        .values("order")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def _sum_views() -> Coalesce:
    rows = (
        PageView.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(n=Sum("views"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


@admin.register(OrderEngagement, site=console_site)
class OrderEngagementAdmin(TenantModelAdmin):
    """Views per order, click-through rate to the store, and the orders the page led to."""

    role_access = REPORT_ACCESS
    list_display = [
        "number",
        "placed_at",
        "page_views",
        "visitors",
        "store_clicks",
        "click_through",
        "orders_led",
    ]
    search_fields = ["number"]
    date_hierarchy = "placed_at"
    ordering = ["-placed_at", "-pk"]
    actions = ["revoke_links"]
    fields = ["number", "placed_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _views=_sum_views(),
                _visitors=_count(PageView),
                _store_clicks=_count(LinkClick, kind__in=LinkKind.store_kinds()),
                _orders_led=Coalesce(
                    Subquery(
                        Conversion.objects.filter(source_order=OuterRef("pk"))
                        .order_by()
                        .values("source_order")
                        .annotate(n=Count("pk"))
                        .values("n"),
                        output_field=IntegerField(),
                    ),
                    0,
                ),
            )
        )

    @admin.display(description=_("Page views"), ordering="_views")
    def page_views(self, obj: Any) -> int:
        return int(obj._views)

    @admin.display(description=_("Visitors"), ordering="_visitors")
    def visitors(self, obj: Any) -> int:
        return int(obj._visitors)

    @admin.display(description=_("Clicks to store"), ordering="_store_clicks")
    def store_clicks(self, obj: Any) -> int:
        return int(obj._store_clicks)

    @admin.display(description=_("Click-through rate"))
    def click_through(self, obj: Any) -> str:
        if not obj._views:
            return "-"
        rate = Decimal(obj._store_clicks) * 100 / Decimal(obj._views)
        return f"{rate:.1f}%"

    @admin.display(description=_("Orders it led to"), ordering="_orders_led")
    def orders_led(self, obj: Any) -> int:
        return int(obj._orders_led)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Revoke tracking links sent so far"))
    def revoke_links(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # Revoking is a write: only roles that may change store data (not marketers) may.
        allowed = {
            merchant_id
            for merchant_id, role in user_roles(request).items()
            if STORE_DATA_ACCESS.get(role, Access.NONE) >= Access.CHANGE
        }
        orders = [order for order in queryset if order.merchant_id in allowed]
        for order in orders:
            services.tracking_links_revoke(order=order, reason=f"console: {request.user}")
        self.message_user(
            request,
            _("Revoked the tracking links of %(count)d orders.") % {"count": len(orders)},
            messages.SUCCESS,
        )


@admin.register(DeliveryRating, site=console_site)
class DeliveryRatingAdmin(TenantModelAdmin):
    role_access = REPORT_ACCESS
    list_display = ["shipment", "score", "comment", "updated_at"]
    list_filter = ["score"]
    list_select_related = ["shipment"]
    readonly_fields = ["shipment", "score", "comment", "created_at", "updated_at"]
    fields = readonly_fields
    ordering = ["-updated_at", "-pk"]


@admin.register(Conversion, site=console_site)
class ConversionAdmin(TenantModelAdmin):
    role_access = REPORT_ACCESS
    list_display = ["order", "source_order", "touch", "touched_at", "created_at"]
    list_filter = ["touch"]
    list_select_related = ["order", "source_order"]
    readonly_fields = ["order", "source_order", "touch", "click", "touched_at", "created_at"]
    fields = readonly_fields
    ordering = ["-created_at", "-pk"]
