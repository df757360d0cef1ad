"""The two admin sites and the tenant scoping every console screen goes through.

* `console_site` (settings.ADMIN_URL) is the merchant console: a staff user sees and edits only
  the merchants they hold a `MerchantMembership` in, with what they may do set by their role
  there (`Access` per role on each admin class; see docs/architecture.md, "Admin").
* `ops_site` (settings.OPS_ADMIN_URL) is for platform staff (superusers or members of the
  `platform_ops` group) across merchants: tenants, domain events, parked handlers.

`TenantScopedMixin` scopes querysets, foreign-key choices and saves to the user's merchants; an
object of another merchant is a 404 (never a 403 or a "perhaps it was deleted" redirect).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from django import forms
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.sites import UnfoldAdminSite

from postpurchase.models import Merchant, MerchantMembership, MerchantRole, TenantModel

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

PLATFORM_OPS_GROUP = "platform_ops"


class Access(IntEnum):
    """What a role may do with one kind of console object; each level includes the ones below."""

    NONE = 0
    VIEW = 1
    CHANGE = 2  # change and add
    FULL = 3  # change, add and delete


# Store data: owners and admins manage it, ops staff correct it, marketers read it.
STORE_DATA_ACCESS: Mapping[str, Access] = {
    MerchantRole.OWNER: Access.FULL,
    MerchantRole.ADMIN: Access.FULL,
    MerchantRole.OPS: Access.CHANGE,
    MerchantRole.MARKETER: Access.VIEW,
}


def user_roles(request: HttpRequest) -> dict[int, str]:
    """The requesting user's role per merchant id, read once per request."""
    cached: dict[int, str] | None = getattr(request, "_merchant_roles", None)
    if cached is None:
        user = request.user
        cached = {}
        if user.is_authenticated and user.is_active and user.is_staff:
            cached = dict(
                MerchantMembership.objects.filter(
                    user_id=user.pk, merchant__is_active=True
                ).values_list("merchant_id", "role")
            )
        request._merchant_roles = cached  # type: ignore[attr-defined]
    return cached


def is_platform_ops(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Superusers and members of the `platform_ops` group run the ops site."""
    if not (user.is_authenticated and user.is_active and getattr(user, "is_staff", False)):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return Group.objects.filter(name=PLATFORM_OPS_GROUP, user__pk=user.pk).exists()


class _SiteConfigMixin:
    """Per-site unfold settings on top of settings.UNFOLD (titles differ between the sites)."""

    site_config: ClassVar[dict[str, Any]] = {}

    def _get_config(self, key: str, *args: Any) -> Any:
        if key in self.site_config:
            return self._get_value(self.site_config[key], *args)  # type: ignore[attr-defined]
        return super()._get_config(key, *args)  # type: ignore[misc]

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # Unfold's login form carries no "next" field: without one in the URL, a successful login
        # would land on settings.LOGIN_REDIRECT_URL instead of this site's index.
        if request.method == "GET" and REDIRECT_FIELD_NAME not in request.GET:
            index = reverse(f"{self.name}:index")  # type: ignore[attr-defined]
            return HttpResponseRedirect(f"{request.path}?{urlencode({REDIRECT_FIELD_NAME: index})}")
        return super().login(request, extra_context)  # type: ignore[misc]


class ConsoleSite(_SiteConfigMixin, UnfoldAdminSite):
    site_header = _("Merchant console")
    site_title = _("Merchant console")
    index_title = _("Your stores")
    site_config = {
        "SITE_TITLE": _("Merchant console"),
        "SITE_HEADER": _("Merchant console"),
        "SITE_SUBHEADER": _("Post-purchase platform"),
        "SITE_SYMBOL": "storefront",
    }

    def has_permission(self, request: HttpRequest) -> bool:
        """Active staff with at least one membership; roles decide the rest per screen."""
        return bool(user_roles(request))


class OpsSite(_SiteConfigMixin, UnfoldAdminSite):
    site_header = _("Platform ops")
    site_title = _("Platform ops")
    index_title = _("Across merchants")
    site_config = {
        "SITE_TITLE": _("Platform ops"),
        "SITE_HEADER": _("Platform ops"),
        "SITE_SUBHEADER": _("Across merchants"),
        "SITE_SYMBOL": "monitor_heart",
    }

    def has_permission(self, request: HttpRequest) -> bool:
        return is_platform_ops(request.user)


console_site = ConsoleSite(name="console")
ops_site = OpsSite(name="ops")


# --- Tenant scoping for the console -----------------------------------------------------------


def _merchant_id_of(obj: models.Model) -> int | None:
    if isinstance(obj, Merchant):
        return obj.pk
    return getattr(obj, "merchant_id", None)


class TenantScopedMixin:
    """Scope a console admin (or inline) to the requesting user's merchants and roles.

    `role_access` says what each role may do with this kind of object. Querysets hold only rows
    of merchants where the role may at least view; foreign-key choices only rows of those
    merchants; the merchant field offers only merchants where the role may change, and is fixed
    when there is one.
    """

    role_access: ClassVar[Mapping[str, Access]] = STORE_DATA_ACCESS
    # The lookup from this model to its merchant id ("pk" for Merchant itself).
    merchant_lookup: ClassVar[str] = "merchant_id"

    # -- which merchants, at which level
    def merchant_ids(self, request: HttpRequest, at_least: Access = Access.VIEW) -> list[int]:
        return sorted(
            merchant_id
            for merchant_id, role in user_roles(request).items()
            if self.role_access.get(role, Access.NONE) >= at_least
        )

    def access(self, request: HttpRequest, obj: models.Model | None = None) -> Access:
        roles = user_roles(request)
        if obj is not None:
            merchant_id = _merchant_id_of(obj)
            if merchant_id is not None:
                return self.role_access.get(roles.get(merchant_id, ""), Access.NONE)
        levels = [self.role_access.get(role, Access.NONE) for role in roles.values()]
        return max(levels, default=Access.NONE)

    # -- permissions: roles, not Django model permissions, govern the console
    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.access(request) >= Access.VIEW

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.access(request, obj) >= Access.VIEW

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.access(request, obj) >= Access.CHANGE

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.access(request, obj) >= Access.CHANGE

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.access(request, obj) >= Access.FULL

    # -- rows
    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return queryset.filter(**{f"{self.merchant_lookup}__in": self.merchant_ids(request)})

    # -- choices
    def scope_choices(
        self, request: HttpRequest, related_model: type[models.Model], queryset: Any
    ) -> Any:
        if queryset is None:
            queryset = related_model._default_manager.all()
        if related_model is Merchant:
            return queryset.filter(pk__in=self.merchant_ids(request, Access.CHANGE))
        if issubclass(related_model, TenantModel):
            return queryset.filter(merchant_id__in=self.merchant_ids(request))
        return queryset

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        related = db_field.related_model
        assert isinstance(related, type)
        base = kwargs.get("queryset")
        if base is None:
            base = self.get_field_queryset(None, db_field, request)  # type: ignore[attr-defined]
        kwargs["queryset"] = self.scope_choices(request, related, base)
        if related is Merchant:
            writable = self.merchant_ids(request, Access.CHANGE)
            if len(writable) == 1:
                # One merchant: fixed, so it cannot be picked wrong or tampered with.
                kwargs["initial"] = writable[0]
                kwargs["disabled"] = True
                kwargs["empty_label"] = None
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(
        self, db_field: models.ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField | None:
        related = db_field.related_model
        assert isinstance(related, type)
        base = kwargs.get("queryset")
        if base is None:
            base = self.get_field_queryset(None, db_field, request)  # type: ignore[attr-defined]
        kwargs["queryset"] = self.scope_choices(request, related, base)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    # -- not yours: 404, as everywhere else in the platform
    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> Any:
        raise Http404(_("No such object."))


class SameMerchantForm(forms.ModelForm):
    """Refuse a save whose related rows belong to another merchant than the object itself."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        merchant_id = _merchant_id_of(self.instance) if self.instance else None
        if "merchant" in cleaned and isinstance(cleaned["merchant"], Merchant):
            merchant_id = cleaned["merchant"].pk
        if merchant_id is None:
            return cleaned
        for name, value in cleaned.items():
            if name == "merchant":
                continue
            for related in _as_models(value):
                related_merchant = _merchant_id_of(related)
                if isinstance(related, TenantModel) and related_merchant != merchant_id:
                    self.add_error(name, _("This belongs to another merchant."))
                    break
        return cleaned


def _as_models(value: Any) -> Iterable[models.Model]:
    if isinstance(value, models.Model):
        return [value]
    if isinstance(value, models.QuerySet | list | tuple):
        return [v for v in value if isinstance(v, models.Model)]
    return []


class TenantModelAdmin(TenantScopedMixin, ModelAdmin):
    """A console screen for one tenant-owned model."""

    form: type[forms.ModelForm[Any]] = SameMerchantForm
    list_filter_merchant = True

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if self.list_filter_merchant and len(self.merchant_ids(request)) > 1:
            # Only merchants present in the (scoped) rows: other tenants' names never show.
            filters.insert(0, ("merchant", RelatedOnlyFieldListFilter))
        return filters

    def get_list_display(self, request: HttpRequest) -> Any:
        display = list(super().get_list_display(request))
        if len(self.merchant_ids(request)) > 1 and "merchant" not in display:
            display.append("merchant")
        return display

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        merchant_id = _merchant_id_of(obj)
        writable = self.merchant_ids(request, Access.CHANGE)
        if merchant_id is None and len(writable) == 1:
            obj.merchant_id = merchant_id = writable[0]
        if merchant_id not in writable:
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Inline rows belong to their parent's merchant."""
        parent_merchant_id = _merchant_id_of(form.instance)
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, TenantModel) and parent_merchant_id is not None:
                instance.merchant_id = parent_merchant_id
            instance.save()
        for deleted in formset.deleted_objects:
            deleted.delete()
        formset.save_m2m()


class TenantInlineForm(forms.ModelForm):
    """An inline row: its tenant foreign keys must belong to the parent's merchant."""

    parent_merchant_id: int | None = None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        parent_merchant_id = self.parent_merchant_id
        if parent_merchant_id is None:
            return cleaned
        for name, value in cleaned.items():
            for related in _as_models(value):
                if (
                    isinstance(related, TenantModel)
                    and _merchant_id_of(related) != parent_merchant_id
                ):
                    self.add_error(name, _("This belongs to another merchant."))
                    break
        return cleaned


class _TenantInlineMixin(TenantScopedMixin):
    form = TenantInlineForm
    exclude: ClassVar[Any] = ("merchant",)

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)  # type: ignore[misc]
        parent_merchant_id = _merchant_id_of(obj) if obj is not None else None

        class ParentScopedFormSet(formset):  # type: ignore[misc, valid-type]
            def _construct_form(self, i: int, **form_kwargs: Any) -> Any:
                form = super()._construct_form(i, **form_kwargs)
                form.parent_merchant_id = _merchant_id_of(self.instance) or parent_merchant_id
                return form

        return ParentScopedFormSet


class TenantTabularInline(_TenantInlineMixin, TabularInline):
    pass


class TenantStackedInline(_TenantInlineMixin, StackedInline):
    pass


# --- The ops site -------------------------------------------------------------------------------


class OpsModelAdmin(ModelAdmin):
    """An ops-site screen: platform ops may view; `ops_can_*` opens writes screen by screen."""

    ops_can_add: ClassVar[bool] = False
    ops_can_change: ClassVar[bool] = False
    ops_can_delete: ClassVar[bool] = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform_ops(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_ops(request.user)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.ops_can_add and is_platform_ops(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.ops_can_change and is_platform_ops(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.ops_can_delete and is_platform_ops(request.user)


class OpsTabularInline(TabularInline):
    """A read-only inline on the ops site."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_ops(request.user)
