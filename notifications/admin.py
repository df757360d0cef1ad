"""Console screens for messaging (scoped to the staff user's merchants) and ops views across them.

Merchants choose which triggers send on which channel, write their own templates per language
(with a preview of HTML and text in both languages and "send a test to me"), see the consent
ledger and suppressions, and read the message ledger per order and per customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from notifications.models import (
    Channel,
    ConsentRecord,
    ConsentSource,
    InboundSms,
    Message,
    MessageEvent,
    MessagingSettings,
    PushSubscription,
    Suppression,
    TemplateOverride,
    TriggerToggle,
)
from notifications.previews import message_send_test, template_preview
from notifications.rendering import TemplateSource, template_validate
from notifications.selectors import messaging_settings_for
from notifications.triggers import triggers_all
from postpurchase.admin_sites import (
    Access,
    OpsModelAdmin,
    OpsTabularInline,
    TenantModelAdmin,
    TenantTabularInline,
    console_site,
    ops_site,
)
from postpurchase.errors import DomainError
from postpurchase.models import MerchantRole

# Templates, toggles and sending rules: owners, admins and marketers write; ops staff read.
MESSAGING_ACCESS: Mapping[str, Access] = {
    MerchantRole.OWNER: Access.FULL,
    MerchantRole.ADMIN: Access.FULL,
    MerchantRole.MARKETER: Access.FULL,
    MerchantRole.OPS: Access.VIEW,
}
# Lifting a suppression (a bounce, a complaint) is for owners and admins.
SUPPRESSION_ACCESS: Mapping[str, Access] = {
    MerchantRole.OWNER: Access.FULL,
    MerchantRole.ADMIN: Access.FULL,
    MerchantRole.MARKETER: Access.VIEW,
    MerchantRole.OPS: Access.VIEW,
}
# The ledgers are records: everyone reads them, nobody edits them.
LEDGER_ACCESS: Mapping[str, Access] = dict.fromkeys(MerchantRole.values, Access.VIEW)


def _trigger_choices() -> list[tuple[str, str]]:
    return [(spec.key, str(spec.label)) for spec in triggers_all()]


class _ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Settings and toggles -----------------------------------------------------------------------


@admin.register(MessagingSettings, site=console_site)
class MessagingSettingsAdmin(TenantModelAdmin):
    role_access = MESSAGING_ACCESS
    list_display = [
        "__str__",
        "quiet_hours_enabled",
        "quiet_hours_start",
        "quiet_hours_end",
        "marketing_daily_cap",
    ]


class TriggerToggleForm(forms.ModelForm):
    trigger = forms.ChoiceField(choices=_trigger_choices)

    class Meta:
        model = TriggerToggle
        fields = ["merchant", "trigger", "channel", "enabled"]


@admin.register(TriggerToggle, site=console_site)
class TriggerToggleAdmin(TenantModelAdmin):
    role_access = MESSAGING_ACCESS
    form = TriggerToggleForm
    list_display = ["trigger", "channel", "enabled"]
    list_editable = ["enabled"]
    list_filter = ["channel", "enabled"]


# --- Templates with preview and test send ---------------------------------------------------


class TemplateOverrideForm(forms.ModelForm):
    trigger = forms.ChoiceField(choices=_trigger_choices)

    class Meta:
        model = TemplateOverride
        fields = [
            "merchant",
            "trigger",
            "channel",
            "language",
            "subject",
            "body_text",
            "body_html",
            "is_active",
        ]
        widgets = {"language": forms.Select(choices=[("en", "English"), ("ja", "日本語")])}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("subject", "body_text", "body_html"):
            try:
                template_validate(cleaned.get(name) or "", field=name)
            except DomainError as exc:
                self.add_error(name, exc.message)
        if cleaned.get("channel") != Channel.EMAIL and cleaned.get("body_html"):
            self.add_error("body_html", _("Only email messages have an HTML part."))
        return cleaned


@admin.register(TemplateOverride, site=console_site)
class TemplateOverrideAdmin(TenantModelAdmin):
    role_access = MESSAGING_ACCESS
    form = TemplateOverrideForm
    list_display = ["trigger", "channel", "language", "is_active", "updated_at", "preview_link"]
    list_filter = ["channel", "language", "is_active"]
    change_form_template = "notifications/admin/template_change_form.html"

    @admin.display(description=_("Preview"))
    def preview_link(self, obj: TemplateOverride) -> str:
        url = reverse("console:notifications_templateoverride_preview", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Preview"))

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="notifications_templateoverride_preview",
            ),
            path(
                "<int:object_id>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="notifications_templateoverride_send_test",
            ),
        ]
        return own + super().get_urls()

    def _own_object(self, request: HttpRequest, object_id: int) -> TemplateOverride:
        # Scoped like every console screen: another merchant's template is a 404.
        return get_object_or_404(self.get_queryset(request), pk=object_id)

    def preview_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """HTML and text of this template with sample data, next to the other language's."""
        override = self._own_object(request, object_id)
        previews = []
        for language in ("en", "ja"):
            same = language == override.language
            other = (
                TemplateOverride.objects.for_merchant(override.merchant)
                .filter(
                    trigger=override.trigger,
                    channel=override.channel,
                    language=language,
                    is_active=True,
                )
                .first()
            )
            chosen = override if same else other
            source = (
                TemplateSource(chosen.subject, chosen.body_text, chosen.body_html)
                if chosen is not None
                else None
            )
            try:
                rendered = template_preview(
                    merchant=override.merchant,
                    trigger=override.trigger,
                    channel=override.channel,
                    language=language,
                    override=source,
                )
                error = ""
            except DomainError as exc:
                rendered, error = None, exc.message
            previews.append(
                {
                    "language": language,
                    "source": _("this template")
                    if same
                    else (_("merchant template") if other else _("platform default")),
                    "rendered": rendered,
                    "error": error,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview: %(name)s") % {"name": override},
            "opts": self.model._meta,
            "original": override,
            "previews": previews,
            "send_test_url": reverse(
                "console:notifications_templateoverride_send_test", args=[override.pk]
            ),
        }
        return TemplateResponse(request, "notifications/admin/template_preview.html", context)

    def send_test_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Send this template with sample data to the signed-in staff member, now."""
        override = self._own_object(request, object_id)
        preview_url = reverse("console:notifications_templateoverride_preview", args=[override.pk])
        if request.method != "POST":
            return HttpResponseRedirect(preview_url)
        rules = messaging_settings_for(merchant=override.merchant)
        to_address = (
            getattr(request.user, "email", "")
            if override.channel == Channel.EMAIL
            else rules.test_recipient_phone
        )
        if override.channel == Channel.PUSH:
            self.message_user(
                request,
                _("Push tests need a browser subscription; use SMS or email."),
                messages.ERROR,
            )
            return HttpResponseRedirect(preview_url)
        try:
            sent = message_send_test(
                merchant=override.merchant,
                trigger=override.trigger,
                channel=override.channel,
                language=override.language,
                to_address=to_address,
                override=TemplateSource(override.subject, override.body_text, override.body_html),
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(preview_url)
        if sent.status == "sent":
            self.message_user(request, _("Test sent to %(to)s.") % {"to": to_address})
        else:
            self.message_user(
                request, _("The test failed: %(why)s") % {"why": sent.status_reason}, messages.ERROR
            )
        return HttpResponseRedirect(preview_url)


# --- Ledgers ----------------------------------------------------------------------------------


class MessageEventInline(_ReadOnlyMixin, TenantTabularInline):
    model = MessageEvent
    role_access = LEDGER_ACCESS
    extra = 0
    fields = ["occurred_at", "type", "detail"]
    readonly_fields = fields
    ordering = ["occurred_at", "id"]


@admin.register(Message, site=console_site)
class MessageAdmin(_ReadOnlyMixin, TenantModelAdmin):
    """The message ledger; filter by order or customer from the links in each row."""

    role_access = LEDGER_ACCESS
    list_display = [
        "created_at",
        "trigger",
        "channel",
        "to_address",
        "status",
        "status_reason",
        "order_link",
        "customer_link",
    ]
    list_filter = ["status", "channel", "trigger", "purpose", "is_test"]
    search_fields = ["=order_ref", "=customer_ref", "to_address", "provider_message_id"]
    date_hierarchy = "created_at"
    inlines = [MessageEventInline]
    readonly_fields = [
        "trigger",
        "channel",
        "purpose",
        "language",
        "to_address",
        "recipient_name",
        "time_zone",
        "order_ref",
        "customer_ref",
        "status",
        "status_reason",
        "attempts",
        "provider",
        "provider_message_id",
        "subject",
        "body_text",
        "link_url",
        "created_at",
        "sent_at",
        "event_id",
    ]
    exclude = ["body_html", "headers", "idempotency_key", "enqueue_token"]

    def _filtered(self, field: str, value: str) -> str:
        if not value:
            return "-"
        url = reverse("console:notifications_message_changelist") + "?" + urlencode({field: value})
        return format_html('<a href="{}">{}</a>', url, value)

    @admin.display(description=_("Order"), ordering="order_ref")
    def order_link(self, obj: Message) -> str:
        return self._filtered("order_ref", obj.order_ref)

    @admin.display(description=_("Customer"), ordering="customer_ref")
    def customer_link(self, obj: Message) -> str:
        return self._filtered("customer_ref", obj.customer_ref)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup in {"order_ref", "customer_ref"} or super().lookup_allowed(
            lookup, value, request
        )


class ConsentRecordForm(forms.ModelForm):
    class Meta:
        model = ConsentRecord
        fields = ["merchant", "channel", "address", "purpose", "granted", "detail"]


@admin.register(ConsentRecord, site=console_site)
class ConsentRecordAdmin(TenantModelAdmin):
    """The consent ledger: append-only; staff may add a record (source "console")."""

    role_access = MESSAGING_ACCESS
    form = ConsentRecordForm
    list_display = ["recorded_at", "channel", "address", "purpose", "granted", "source", "detail"]
    list_filter = ["channel", "purpose", "granted", "source"]
    search_fields = ["=address"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from django.utils import timezone

        from notifications.consent import normalise_address

        obj.source = ConsentSource.CONSOLE
        obj.recorded_at = timezone.now()
        obj.detail = (obj.detail or f"by {request.user}")[:300]
        merchant = obj.merchant if obj.merchant_id else None
        obj.address = normalise_address(
            obj.channel, obj.address, country=merchant.country if merchant else "US"
        )
        super().save_model(request, obj, form, change)


@admin.register(Suppression, site=console_site)
class SuppressionAdmin(TenantModelAdmin):
    """Addresses we must not send to; deleting one lifts it (owners and admins)."""

    role_access = SUPPRESSION_ACCESS
    list_display = ["created_at", "channel", "address", "reason", "detail"]
    list_filter = ["channel", "reason"]
    search_fields = ["=address"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InboundSms, site=console_site)
class InboundSmsAdmin(TenantModelAdmin):
    """Replies by SMS; the ones that look like an opt-out wait here for a person."""

    role_access = MESSAGING_ACCESS
    list_display = ["received_at", "from_number", "body", "kind", "reviewed", "error"]
    list_filter = ["kind", "reviewed"]
    list_editable = ["reviewed"]
    search_fields = ["=from_number"]
    fields = ["received_at", "from_number", "to_number", "body", "kind", "error", "reviewed"]
    readonly_fields = ["received_at", "from_number", "to_number", "body", "kind", "error"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PushSubscription, site=console_site)
class PushSubscriptionAdmin(TenantModelAdmin):
    role_access = LEDGER_ACCESS
    list_display = ["created_at", "order_ref", "customer_ref", "language", "last_success_at"]
    search_fields = ["=order_ref", "=customer_ref"]
    exclude = ["p256dh", "auth"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Ops: across merchants --------------------------------------------------------------------


class OpsMessageEventInline(OpsTabularInline):
    model = MessageEvent
    fields = ["occurred_at", "type", "detail"]
    readonly_fields = fields


@admin.register(Message, site=ops_site)
class OpsMessageAdmin(OpsModelAdmin):
    list_display = ["created_at", "merchant", "trigger", "channel", "status", "status_reason"]
    list_filter = ["status", "channel", "merchant"]
    search_fields = ["=order_ref", "=customer_ref", "provider_message_id"]
    exclude = ["body_html", "headers"]
    inlines = [OpsMessageEventInline]


@admin.register(InboundSms, site=ops_site)
class OpsInboundSmsAdmin(OpsModelAdmin):
    list_display = ["received_at", "merchant", "from_number", "kind", "error"]
    list_filter = ["kind", "merchant"]
