"""Ops screens for carrier events in: inbound webhooks (replay), timelines, carrier counts.

Registered on the ops site (platform staff, across merchants). Inbound webhooks open on the failed
ones, with their reason and a replay action; shipments show their carrier timeline; the shipment
and unmapped-code lists show per-carrier counts; webhook secrets are added here (shown once,
stored encrypted) and revoked.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from postpurchase.admin_sites import OpsModelAdmin, OpsTabularInline, is_platform_ops, ops_site
from postpurchase.errors import DomainError
from tracking.ingest import inbound_webhook_replay
from tracking.models import (
    CarrierPollState,
    InboundWebhook,
    InboundWebhookState,
    Shipment,
    TrackingEvent,
    UnmappedCarrierCode,
    WebhookSecret,
)
from tracking.webhooks.secrets import webhook_secret_add, webhook_secret_revoke


class WebhookStateFilter(admin.SimpleListFilter):
    """Failed webhooks first: that is what ops comes here for."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*InboundWebhookState.choices, ("all", _("All"))]

    def choices(self, changelist: Any) -> Any:
        value = self.value() or InboundWebhookState.FAILED
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value() or InboundWebhookState.FAILED
        return queryset if value == "all" else queryset.filter(state=value)


@admin.register(InboundWebhook, site=ops_site)
class InboundWebhookOpsAdmin(OpsModelAdmin):
    list_display = [
        "received_at",
        "merchant",
        "source",
        "topic",
        "state",
        "deliveries",
        "attempts",
        "events_new",
        "short_error",
    ]
    list_filter = [WebhookStateFilter, "source", "merchant"]
    search_fields = ["unique_key", "error", "topic"]
    date_hierarchy = "received_at"
    list_select_related = ["merchant"]
    exclude = ["body", "headers"]
    readonly_fields = [
        "merchant",
        "source",
        "topic",
        "unique_key",
        "state",
        "error_block",
        "attempts",
        "deliveries",
        "events_new",
        "received_at",
        "claimed_at",
        "processed_at",
        "headers_block",
        "body_block",
    ]
    actions = ["replay"]

    @admin.display(description=_("Error"))
    def short_error(self, obj: InboundWebhook) -> str:
        return obj.error[:120]

    @admin.display(description=_("Error"))
    def error_block(self, obj: InboundWebhook) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.error or "-")

    @admin.display(description=_("Headers"))
    def headers_block(self, obj: InboundWebhook) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.headers, indent=2, sort_keys=True))

    @admin.display(description=_("Body"))
    def body_block(self, obj: InboundWebhook) -> str:
        text = obj.body_text
        with contextlib.suppress(ValueError):  # else shown as received: often why it failed
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", text[:200_000])

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return is_platform_ops(request.user)

    @admin.action(description=_("Replay selected webhooks"), permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[InboundWebhook]) -> None:
        replayed = skipped = 0
        for webhook in queryset:
            try:
                inbound_webhook_replay(webhook=webhook)
                replayed += 1
            except DomainError:
                skipped += 1
        self.message_user(
            request,
            ngettext(
                "Queued %d webhook for processing again.",
                "Queued %d webhooks for processing again.",
                replayed,
            )
            % replayed,
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%d webhook is in flight and was left alone.",
                    "%d webhooks are in flight and were left alone.",
                    skipped,
                )
                % skipped,
                messages.WARNING,
            )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = (
            InboundWebhook.objects.values("source", "state")
            .annotate(n=Count("id"))
            .order_by("source", "state")
        )
        return super().changelist_view(
            request, {**(extra_context or {}), "counts_title": _("By source"), "counts": counts}
        )

    change_list_template = "admin/tracking/counts_change_list.html"


class TimelineInline(OpsTabularInline):
    """The shipment's carrier timeline, newest first, with the aggregator reports that were
    matched to the carrier's own (`duplicate of`: not shown to shoppers)."""

    model = TrackingEvent
    fields = [
        "occurred_at",
        "status",
        "reason",
        "action_required",
        "carrier_code",
        "carrier_text",
        "city",
        "region",
        "country",
        "mapped",
        "source",
        "origin",
        "duplicate_of",
        "received_at",
    ]
    readonly_fields = fields
    ordering = ["-occurred_at", "-id"]


@admin.register(Shipment, site=ops_site)
class ShipmentOpsAdmin(OpsModelAdmin):
    list_display = [
        "tracking_number",
        "carrier",
        "merchant",
        "status",
        "lifecycle",
        "last_event_at",
        "last_checked_at",
        "next_check_at",
        "poll_failures",
    ]
    list_filter = ["status", "lifecycle", "carrier", "merchant"]
    search_fields = ["=tracking_number", "=public_id", "order__number"]
    list_select_related = ["merchant"]
    date_hierarchy = "created_at"
    exclude = ["lines"]
    inlines = [TimelineInline]
    change_list_template = "admin/tracking/counts_change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Shipment._meta.fields]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = (
            Shipment.objects.values("carrier", "status")
            .annotate(n=Count("id"))
            .order_by("carrier", "status")
        )
        # An aggregator's report matched to the carrier's own (tracking.scan_matching).
        matches = (
            TrackingEvent.objects.filter(duplicate_of__isnull=False)
            .values("carrier")
            .annotate(matched=Count("id"))
            .order_by("carrier")
        )
        return super().changelist_view(
            request,
            {
                **(extra_context or {}),
                "counts_title": _("Shipments by carrier"),
                "counts": counts,
                "more_counts": [(_("Cross-source matches per carrier"), matches)],
            },
        )


@admin.register(UnmappedCarrierCode, site=ops_site)
class UnmappedCarrierCodeOpsAdmin(OpsModelAdmin):
    """Codes no mapping table knew, most frequent first: extend the carrier's table with these."""

    list_display = [
        "carrier",
        "carrier_code",
        "occurrences",
        "mapped_to",
        "sample_text",
        "mapping_version",
        "last_seen_at",
    ]
    list_filter = ["carrier"]
    search_fields = ["carrier_code", "sample_text"]
    readonly_fields = [*list_display, "first_seen_at"]
    change_list_template = "admin/tracking/counts_change_list.html"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = (
            UnmappedCarrierCode.objects.values("carrier")
            .annotate(n=Count("id"))
            .order_by("carrier")
        )
        return super().changelist_view(
            request,
            {
                **(extra_context or {}),
                "counts_title": _("Unmapped codes per carrier"),
                "counts": counts,
            },
        )


@admin.register(CarrierPollState, site=ops_site)
class CarrierPollStateOpsAdmin(OpsModelAdmin):
    list_display = [
        "carrier",
        "paused_until",
        "consecutive_failures",
        "last_polled_at",
        "last_error",
    ]
    readonly_fields = list_display


class WebhookSecretForm(forms.ModelForm):
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        min_length=16,
        help_text=_("Paste the secret the source gave you; it is stored encrypted, never shown."),
    )

    class Meta:
        model = WebhookSecret
        fields = ["merchant", "source", "label"]


@admin.register(WebhookSecret, site=ops_site)
class WebhookSecretOpsAdmin(OpsModelAdmin):
    """Webhook secrets per merchant and source; several may be active while rotating."""

    ops_can_add = True
    form = WebhookSecretForm
    list_display = [
        "merchant",
        "source",
        "label",
        "hint",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["source", "merchant"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        shown = ["merchant", "source", "label", "hint", "created_at", "last_used_at", "revoked_at"]
        return shown if obj else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["merchant", "source", "label", "secret"]
        return ["merchant", "source", "label", "hint", "created_at", "last_used_at", "revoked_at"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return
        saved = webhook_secret_add(
            merchant=form.cleaned_data["merchant"],
            source=form.cleaned_data["source"],
            secret=form.cleaned_data["secret"],
            label=form.cleaned_data.get("label", ""),
        )
        obj.pk = saved.pk

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return is_platform_ops(request.user)

    @admin.action(description=_("Revoke selected secrets"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[WebhookSecret]) -> None:
        rows = list(queryset.filter(revoked_at__isnull=True))
        for row in rows:
            webhook_secret_revoke(secret=row)
        self.message_user(request, _("Revoked %d secret(s).") % len(rows), messages.SUCCESS)
