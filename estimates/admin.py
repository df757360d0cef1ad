"""Console screens for delivery estimates: warehouses, transit rules, carrier closures, gift
dates, and the estimator versions with their metrics and calibration plot."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from estimates.calibration_plot import calibration_svg
from estimates.models import CarrierClosure, EstimatorVersion, GiftDate, TransitRule, Warehouse
from estimates.registry import ArtifactRefused
from estimates.services import version_activate
from postpurchase.admin_sites import Access, TenantModelAdmin, console_site


@admin.register(Warehouse, site=console_site)
class WarehouseAdmin(TenantModelAdmin):
    list_display = [
        "code",
        "name",
        "country",
        "time_zone",
        "cutoff_time",
        "handling_days",
        "is_default",
    ]
    search_fields = ["code", "name"]


@admin.register(TransitRule, site=console_site)
class TransitRuleAdmin(TenantModelAdmin):
    list_display = [
        "carrier",
        "service",
        "origin_country",
        "destination_country",
        "destination_region",
        "destination_postcode_prefix",
        "min_days",
        "typical_days",
        "max_days",
        "is_active",
    ]
    list_filter = ["carrier", "is_active"]
    search_fields = ["carrier", "service", "destination_region"]


@admin.register(CarrierClosure, site=console_site)
class CarrierClosureAdmin(TenantModelAdmin):
    list_display = ["carrier", "date", "note"]
    list_filter = ["carrier"]
    date_hierarchy = "date"


@admin.register(GiftDate, site=console_site)
class GiftDateAdmin(TenantModelAdmin):
    list_display = ["name", "date", "is_active"]


def _percent(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "-"


def _days(value: Any) -> str:
    return f"{value:.2f} d" if isinstance(value, int | float) else "-"


@admin.register(EstimatorVersion, site=console_site)
class EstimatorVersionAdmin(TenantModelAdmin):
    """Versions are made by training; staff compare them and may activate one by hand."""

    list_display = [
        "version",
        "stage",
        "tier",
        "is_active",
        "mae",
        "on_time",
        "padding",
        "coverage",
        "training_end",
    ]
    list_filter = ["stage", "tier", "is_active"]
    readonly_fields = [
        "version",
        "stage",
        "tier",
        "is_active",
        "activated_at",
        "training_start",
        "training_end",
        "n_train",
        "metrics_table",
        "calibration_plot",
        "schema_fingerprint",
        "library_versions",
        "artifact_sha256",
        "artifact_path",
        "refused_reason",
        "created_at",
    ]
    fields = readonly_fields
    actions = ["activate_selected"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).defer("artifact")

    @admin.display(description=_("MAE P50"))
    def mae(self, obj: EstimatorVersion) -> str:
        return _days(obj.metrics.get("mae_p50_days"))

    @admin.display(description=_("On time"))
    def on_time(self, obj: EstimatorVersion) -> str:
        return _percent(obj.metrics.get("promise_on_time"))

    @admin.display(description=_("Padding"))
    def padding(self, obj: EstimatorVersion) -> str:
        return _days(obj.metrics.get("promise_padding_days"))

    @admin.display(description=_("P10-P90 coverage"))
    def coverage(self, obj: EstimatorVersion) -> str:
        return _percent(obj.metrics.get("p10_p90_coverage"))

    @admin.display(description=_("Backtest of every tier"))
    def metrics_table(self, obj: EstimatorVersion) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            (
                (
                    tier,
                    m.get("n", 0),
                    _days(m.get("mae_p50_days")),
                    _percent(m.get("promise_on_time")),
                    _days(m.get("promise_padding_days")),
                    _percent(m.get("p10_p90_coverage")),
                    _days(m.get("p10_p90_width_days")),
                )
                for tier, m in (obj.tier_metrics or {obj.tier: obj.metrics}).items()
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("tier"),
            _("shipments"),
            _("MAE P50"),
            _("on time"),
            _("padding"),
            _("P10-P90 coverage"),
            _("width"),
            rows,
        )

    @admin.display(description=_("Calibration"))
    def calibration_plot(self, obj: EstimatorVersion) -> SafeString:
        points = (obj.calibration or {}).get("reliability") or []
        if not points:
            return format_html("<p>{}</p>", _("Too little held-out history to measure."))
        return calibration_svg(points, title=f"Calibration of {obj.version}")

    @admin.action(description=_("Activate the selected version"))
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        writable = set(self.merchant_ids(request, Access.CHANGE))
        for version in queryset:
            if version.merchant_id not in writable:
                self.message_user(request, _("Not allowed for this store."), messages.ERROR)
                continue
            try:
                version_activate(version=version)
            except ArtifactRefused as exc:
                self.message_user(request, f"{version.version}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{version.version} is now active.", messages.SUCCESS)
