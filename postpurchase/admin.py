"""Kernel screens: store settings and API keys in the console; tenants, users, events on ops."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from postpurchase import outbox
from postpurchase.admin_sites import (
    Access,
    OpsModelAdmin,
    OpsTabularInline,
    TenantModelAdmin,
    console_site,
    is_platform_ops,
    ops_site,
)
from postpurchase.api_keys import api_key_create, api_key_revoke
from postpurchase.models import (
    ApiKey,
    ApiScope,
    DomainEvent,
    HandlerRun,
    HandlerRunState,
    Merchant,
    MerchantMembership,
    MerchantRole,
)

# --- Console: store settings and branding ----------------------------------------------------


class MerchantSettingsForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(
        choices=settings.LANGUAGES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Languages your tracking pages and messages are offered in."),
    )

    class Meta:
        model = Merchant
        fields = [
            "name",
            "slug",
            "time_zone",
            "default_language",
            "languages",
            "currency",
            "country",
            "support_email",
            "support_url",
            "website",
            "custom_domain",
            "logo",
            "primary_colour",
            "accent_colour",
            "text_colour",
            "background_colour",
            "font_family",
            "email_from_name",
            "email_from_address",
            "sms_sender",
            "is_active",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        offered = cleaned.get("languages") or []
        default = cleaned.get("default_language")
        if offered and default and default not in offered:
            self.add_error(
                "default_language", _("The default language must be one of the offered ones.")
            )
        return cleaned


@admin.register(Merchant, site=console_site)
class MerchantSettingsAdmin(TenantModelAdmin):
    """A merchant's own settings: owners, admins and marketers edit; ops staff read."""

    role_access: ClassVar[Mapping[str, Access]] = {
        MerchantRole.OWNER: Access.CHANGE,
        MerchantRole.ADMIN: Access.CHANGE,
        MerchantRole.MARKETER: Access.CHANGE,
        MerchantRole.OPS: Access.VIEW,
    }
    merchant_lookup = "pk"
    list_filter_merchant = False
    form = MerchantSettingsForm
    list_display = ["name", "slug", "default_language", "currency", "country", "time_zone"]
    search_fields = ["name", "slug"]
    readonly_fields = ["slug", "custom_domain", "is_active", "created_at", "branding_preview"]
    fieldsets = [
        (
            _("Store"),
            {
                "fields": [
                    "name",
                    "slug",
                    "website",
                    "support_email",
                    "support_url",
                    "custom_domain",
                    "is_active",
                ]
            },
        ),
        (
            _("Locale"),
            {"fields": ["default_language", "languages", "time_zone", "currency", "country"]},
        ),
        (
            _("Branding"),
            {
                "fields": [
                    "logo",
                    "primary_colour",
                    "accent_colour",
                    "text_colour",
                    "background_colour",
                    "font_family",
                    "branding_preview",
                ]
            },
        ),
        (
            _("Sending identities"),
            {"fields": ["email_from_name", "email_from_address", "sms_sender"]},
        ),
    ]

    def get_list_display(self, request: HttpRequest) -> Any:
        return self.list_display

    @admin.display(description=_("Preview (saved colours)"))
    def branding_preview(self, obj: Merchant) -> str:
        """How the saved colours and font look together on shopper pages."""
        return format_html(
            '<div style="background:{bg};color:{text};font-family:{font};padding:12px 16px;'
            'border:1px solid #ddd;border-radius:8px;max-width:28rem">'
            '<strong style="color:{primary}">{name}</strong><br>'
            "{line} "
            '<span style="background:{accent};color:#fff;padding:2px 8px;border-radius:4px">'
            "{badge}</span></div>",
            bg=obj.background_colour,
            text=obj.text_colour,
            font=obj.font_family,
            primary=obj.primary_colour,
            accent=obj.accent_colour,
            name=obj.name,
            line=_("Your order is on its way."),
            badge=_("Out for delivery"),
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # tenants are created on the ops site

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Console: API keys --------------------------------------------------------------------------


class ApiKeyIssueForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiScope.ORDERS_READ, ApiScope.ORDERS_WRITE, ApiScope.SHIPMENTS_READ],
        help_text=_("What a store holding this key may do."),
    )

    class Meta:
        model = ApiKey
        fields = ["merchant", "name", "scopes"]


@admin.register(ApiKey, site=console_site)
class ApiKeyAdmin(TenantModelAdmin):
    """Issue and revoke keys: owners and admins only; the secret is shown once, never stored."""

    role_access: ClassVar[Mapping[str, Access]] = {
        MerchantRole.OWNER: Access.CHANGE,
        MerchantRole.ADMIN: Access.CHANGE,
        MerchantRole.MARKETER: Access.NONE,
        MerchantRole.OPS: Access.NONE,
    }
    list_display = ["name", "prefix_display", "scope_list", "created_at", "last_used_at", "state"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    actions = ["revoke_keys"]
    issued_template = "admin/postpurchase/apikey/issued.html"

    @admin.display(description=_("Key starts with"))
    def prefix_display(self, obj: ApiKey) -> str:
        return f"{obj.prefix}_…"

    @admin.display(description=_("Scopes"))
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description=_("State"))
    def state(self, obj: ApiKey) -> str:
        return str(_("Active")) if obj.is_active else str(_("Revoked"))

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyIssueForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["merchant", "name", "scopes"]
        return ["merchant", "name", "prefix_display", "scope_list", "created_at", "last_used_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        # An issued key cannot be changed, only revoked: a new scope needs a new key.
        return ["merchant", "name", "prefix_display", "scope_list", "created_at", "last_used_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked keys stay for the record

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return
        merchant = form.cleaned_data["merchant"]
        if merchant.pk not in self.merchant_ids(request, Access.CHANGE):
            raise PermissionDenied
        issued = api_key_create(
            merchant=merchant, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
        )
        # The admin goes on with `obj` (log entry, redirect): make it the stored key.
        obj.__dict__.update(
            {k: v for k, v in issued.api_key.__dict__.items() if not k.startswith("_")}
        )
        obj._state.adding = False
        obj._state.db = issued.api_key._state.db
        request._issued_api_key_secret = issued.secret  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        secret = getattr(request, "_issued_api_key_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        # Rendered, not redirected: the secret never sits in a message cookie or the session.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("API key issued"),
            "api_key": obj,
            "secret": secret,
            "changelist_url": reverse(f"{self.admin_site.name}:postpurchase_apikey_changelist"),
        }
        response = TemplateResponse(request, self.issued_template, context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        writable = self.merchant_ids(request, Access.CHANGE)
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True, merchant_id__in=writable):
            api_key_revoke(api_key=key)
            revoked += 1
        self.message_user(
            request,
            ngettext("Revoked %d key.", "Revoked %d keys.", revoked) % revoked,
            messages.SUCCESS,
        )


# --- Ops: tenants and their staff -------------------------------------------------------------


class MembershipInline(OpsTabularInline):
    model = MerchantMembership
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_ops(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_ops(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_ops(request.user)


@admin.register(Merchant, site=ops_site)
class MerchantOpsAdmin(OpsModelAdmin):
    ops_can_add = True
    ops_can_change = True
    form = MerchantSettingsForm
    list_display = ["name", "slug", "currency", "country", "default_language", "is_active"]
    list_filter = ["is_active", "country", "currency"]
    search_fields = ["name", "slug", "custom_domain"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(ApiKey, site=ops_site)
class ApiKeyOpsAdmin(OpsModelAdmin):
    """Every merchant's keys, read-only; ops may revoke a leaked key."""

    list_display = ["name", "merchant", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "merchant"]
    search_fields = ["name", "prefix", "merchant__name"]
    exclude = ["hashed_key"]
    actions = ["revoke_keys"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return is_platform_ops(request.user)

    @admin.action(description=_("Revoke selected keys"), permissions=["revoke"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke(api_key=key)
        self.message_user(
            request,
            ngettext("Revoked %d key.", "Revoked %d keys.", len(keys)) % len(keys),
            messages.SUCCESS,
        )


@admin.register(User, site=ops_site)
class UserOpsAdmin(BaseUserAdmin, ModelAdmin):
    """Platform users: only superusers manage accounts (ops staff may look people up)."""

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform_ops(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_ops(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(Group, site=ops_site)
class GroupOpsAdmin(BaseGroupAdmin, ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


# --- Ops: domain events and handler runs -------------------------------------------------------


class HandlerRunInline(OpsTabularInline):
    model = HandlerRun
    fields = ["handler", "state", "attempts", "next_attempt_at", "updated_at", "last_error"]
    readonly_fields = fields


class DispatchedFilter(admin.SimpleListFilter):
    title = _("dispatched")
    parameter_name = "dispatched"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Dispatched")), ("no", _("Waiting"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(dispatched_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(dispatched_at__isnull=True)
        return queryset


@admin.register(DomainEvent, site=ops_site)
class DomainEventOpsAdmin(OpsModelAdmin):
    list_display = ["type", "subject", "merchant", "created_at", "dispatched_at", "attempts"]
    list_filter = [DispatchedFilter, "type", "merchant"]
    search_fields = ["=id", "type", "subject"]
    date_hierarchy = "created_at"
    list_select_related = ["merchant"]
    readonly_fields = [
        "id",
        "merchant",
        "type",
        "subject",
        "data",
        "created_at",
        "dispatched_at",
        "dispatch_attempts",
    ]
    inlines = [HandlerRunInline]

    @admin.display(description=_("Dispatch attempts"), ordering="dispatch_attempts")
    def attempts(self, obj: DomainEvent) -> int:
        return obj.dispatch_attempts


class HandlerStateFilter(admin.SimpleListFilter):
    """Parked runs first: that is what ops comes here for."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*HandlerRunState.choices, ("all", _("All"))]

    def choices(self, changelist: Any) -> Any:
        value = self.value() or HandlerRunState.PARKED
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value() or HandlerRunState.PARKED
        if value == "all":
            return queryset
        return queryset.filter(state=value)


@admin.register(HandlerRun, site=ops_site)
class HandlerRunOpsAdmin(OpsModelAdmin):
    """Handler runs; parked ones (failed too often) can be retried once the cause is fixed."""

    list_display = ["handler", "event_link", "state", "attempts", "next_attempt_at", "updated_at"]
    list_filter = [HandlerStateFilter, "handler"]
    search_fields = ["handler", "=event__id", "event__type", "event__subject"]
    list_select_related = ["event"]
    readonly_fields = [
        "event",
        "handler",
        "state",
        "attempts",
        "next_attempt_at",
        "updated_at",
        "last_error_block",
    ]
    exclude = ["last_error"]
    actions = ["retry_runs"]

    @admin.display(description=_("Event"))
    def event_link(self, obj: HandlerRun) -> str:
        return format_html(
            '<a href="../domainevent/{}/change/">{}</a>', obj.event_id, obj.event.type
        )

    @admin.display(description=_("Last error"))
    def last_error_block(self, obj: HandlerRun) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.last_error or "-")

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return is_platform_ops(request.user)

    @admin.action(description=_("Retry selected handler runs"), permissions=["retry"])
    def retry_runs(
        self, request: HttpRequest, queryset: QuerySet[HandlerRun]
    ) -> HttpResponse | None:
        runs = list(queryset.exclude(state=HandlerRunState.DONE))
        for run in runs:
            outbox.handler_run_retry(run=run)
        skipped = queryset.filter(state=HandlerRunState.DONE).count()
        self.message_user(
            request,
            ngettext(
                "Queued %d handler run for another attempt.",
                "Queued %d handler runs for another attempt.",
                len(runs),
            )
            % len(runs),
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%d run was already done and was left alone.",
                    "%d runs were already done and were left alone.",
                    skipped,
                )
                % skipped,
                messages.WARNING,
            )
        return None


# --- Ops: the beat schedule -------------------------------------------------------------------


@admin.register(PeriodicTask, site=ops_site)
class PeriodicTaskOpsAdmin(PeriodicTaskAdmin, OpsModelAdmin):
    """Beat's schedule (written from settings when beat starts): ops may pause or run a task."""

    ops_can_add = True
    ops_can_change = True
    ops_can_delete = True
