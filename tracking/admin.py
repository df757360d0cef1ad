"""Console screens for shipments, scoped to the staff user's merchants.

Shipments arrive through the API (`tracking.services`); the console shows them with their lines
and carrier timeline and lets staff correct the carrier details. The status is derived from
carrier events and is read-only here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline

from commerce.models import OrderLine
from postpurchase.admin_sites import TenantModelAdmin, TenantTabularInline, console_site
from tracking.models import Shipment, ShipmentLine, TrackingEvent


class ShipmentLineInline(TenantTabularInline):
    model = ShipmentLine
    extra = 0
    fields = ["order_line", "quantity"]

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        request._console_shipment = obj  # type: ignore[attr-defined]
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        shipment = getattr(request, "_console_shipment", None)
        if db_field.name == "order_line" and shipment is not None:
            # Only lines of this shipment's own order can travel in it.
            kwargs["queryset"] = OrderLine.objects.filter(order_id=shipment.order_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TrackingEventInline(TabularInline):
    """The carrier timeline, read-only (events come from carriers, not from staff)."""

    model = TrackingEvent
    extra = 0
    can_delete = False
    fields = ["occurred_at", "status", "reason", "carrier_code", "carrier_text", "city", "country"]
    readonly_fields = fields
    ordering = ["-occurred_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Shown on a shipment the user could open, which the shipment screen has checked.
        return obj is not None


@admin.register(Shipment, site=console_site)
class ShipmentAdmin(TenantModelAdmin):
    ordering = ["-created_at", "-pk"]
    list_display = [
        "tracking_number",
        "carrier",
        "order",
        "status",
        "lifecycle",
        "shipped_at",
        "delivered_at",
        "promise_date",
    ]
    list_filter = ["status", "lifecycle", "carrier", "action_required"]
    search_fields = ["tracking_number", "order__number", "external_id", "public_id"]
    date_hierarchy = "shipped_at"
    list_select_related = ["order"]
    autocomplete_fields = ["order"]
    inlines = [ShipmentLineInline, TrackingEventInline]
    readonly_fields = [
        "public_id",
        "status",
        "status_reason",
        "action_required",
        "lifecycle",
        "status_changed_at",
        "last_event_at",
        "delivered_at",
        "estimate_window_start",
        "estimate_window_end",
        "promise_date",
        "first_promise_date",
        "estimate_model_version",
        "estimate_confidence",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "merchant",
                    "order",
                    "public_id",
                    "external_id",
                    "carrier",
                    "service",
                    "tracking_number",
                    "shipped_at",
                ]
            },
        ),
        (
            _("Route"),
            {
                "fields": [
                    "origin_country",
                    "origin_region",
                    "origin_postcode",
                    "destination_country",
                    "destination_region",
                    "destination_postcode",
                ]
            },
        ),
        (
            _("Status (from carrier events)"),
            {
                "fields": [
                    "status",
                    "status_reason",
                    "action_required",
                    "lifecycle",
                    "status_changed_at",
                    "last_event_at",
                    "delivered_at",
                ]
            },
        ),
        (
            _("Delivery estimate"),
            {
                "fields": [
                    "estimate_window_start",
                    "estimate_window_end",
                    "promise_date",
                    "first_promise_date",
                    "estimate_model_version",
                    "estimate_confidence",
                ]
            },
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Created through the API so that "shipment.created" is published with them.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The ops site's tracking screens (inbound webhooks, timelines, carrier codes, secrets) live in
# their own module; importing it here registers them when Django autodiscovers admin modules.
import tracking.admin_ingest  # noqa: E402, F401
