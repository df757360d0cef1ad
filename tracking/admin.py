"""Console screens for shipments, scoped to the staff user's merchants.

Shipments usually arrive through the API; staff may also add one here (for a store without an
integration), which goes through `tracking.services.shipment_get_or_create` like the API, so
`shipment.created` is published. The console shows each shipment with its lines and carrier
timeline and lets staff correct the carrier details; the status is derived from carrier events
and is read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline

from commerce.models import OrderLine
from postpurchase.admin_sites import Access, TenantModelAdmin, TenantTabularInline, console_site
from postpurchase.errors import DomainError
from tracking.models import Shipment, ShipmentLine, TrackingEvent
from tracking.selectors import order_lines_remaining
from tracking.services import shipment_get_or_create

# Service error paths that are not form fields of their own.
_FIELD_ALIASES = {"origin.country": "origin_country", "destination.country": None}


class ShipmentAddForm(forms.ModelForm):
    """Add a shipment of everything still unshipped in an order, through the service.

    The service runs during validation (inside the admin's transaction), so its field errors
    show on the form; the admin then keeps the shipment it created.
    """

    writable_merchant_ids: frozenset[int] = frozenset()
    created: Shipment | None = None

    class Meta:
        model = Shipment
        fields = ["order", "carrier", "service", "tracking_number", "shipped_at", "origin_country"]
        help_texts = {"carrier": _("The carrier's code, e.g. ups, fedex, usps, dhl, yamato.")}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        order = data.get("order")
        if self.errors or order is None:
            return data
        if order.merchant_id not in self.writable_merchant_ids:
            self.add_error("order", _("You may not add shipments to this store's orders."))
            return data
        remaining = [(line, left) for line, left in order_lines_remaining(order=order).items()]
        try:
            result = shipment_get_or_create(
                order=order,
                carrier=data.get("carrier") or "",
                tracking_number=data.get("tracking_number") or "",
                service=data.get("service") or "",
                shipped_at=data.get("shipped_at"),
                origin_country=data.get("origin_country") or "",
                lines=[(line, left) for line, left in remaining if left > 0],
            )
        except DomainError as exc:
            for path, messages in (
                getattr(exc, "fields", None) or {exc.field: [exc.message]}
            ).items():
                field = _FIELD_ALIASES.get(path or "", path)
                self.add_error(field if field in self.fields else None, messages)
            return data
        if not result.created:
            self.add_error(
                "tracking_number", _("This order already has a shipment with this number.")
            )
            return data
        self.created = result.shipment
        return data

    def _post_clean(self) -> None:
        # The service validated and stored the shipment; the unsaved instance is not used.
        pass


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

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrackingEvent]:
        # The timeline the shopper sees: an aggregator's report matched to the carrier's own
        # row is not shown twice.
        return super().get_queryset(request).filter(duplicate_of__isnull=True)

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

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        kwargs["form"] = type(
            "ScopedShipmentAddForm",
            (ShipmentAddForm,),
            {"writable_merchant_ids": frozenset(self.merchant_ids(request, Access.CHANGE))},
        )
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [(None, {"fields": ShipmentAddForm.Meta.fields})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = form.created
        if created is None or created.merchant_id not in self.merchant_ids(request, Access.CHANGE):
            raise PermissionDenied
        # The admin goes on with `obj` (log entry, redirect): make it the stored shipment.
        obj.__dict__.update({k: v for k, v in created.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False
        obj._state.db = created._state.db

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The ops site's tracking screens (inbound webhooks, timelines, carrier codes, secrets) live in
# their own module; importing it here registers them when Django autodiscovers admin modules.
import tracking.admin_ingest  # noqa: E402, F401
