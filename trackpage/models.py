"""The tracking page's own tables: merchant blocks, link revocation, and measured engagement.

Engagement rows keep no more personal data than needed: a visitor is a salted hash of a random
first-party cookie (never an IP address or user agent), clicks keep the destination and its kind.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from commerce.models import Order
from postpurchase.models import TenantModel
from tracking.models import Shipment


class BlockKind(models.TextChoices):
    PROMOTION = "promotion", _("Promotion banner")
    HTML = "html", _("Merchant HTML block")


class BlockPlacement(models.TextChoices):
    TOP = "top", _("Above the shipments")
    BOTTOM = "bottom", _("Below the shipments")


class MerchantPageBlock(TenantModel):
    """A block the merchant writes for its tracking page; `html` is sanitised with nh3 on save."""

    kind = models.CharField(max_length=12, choices=BlockKind.choices, default=BlockKind.PROMOTION)
    placement = models.CharField(
        max_length=8, choices=BlockPlacement.choices, default=BlockPlacement.TOP
    )
    title = models.CharField(max_length=120, blank=True)
    html = models.TextField(
        blank=True,
        help_text=_(
            "Simple HTML (paragraphs, links, emphasis, lists, images). Scripts are removed."
        ),
    )
    link_url = models.URLField(
        blank=True, help_text=_("Where the banner's button leads; must be on your own domain.")
    )
    link_label = models.CharField(max_length=60, blank=True)
    language = models.CharField(
        max_length=8,
        blank=True,
        help_text=_("Only for shoppers reading this language; blank: all."),
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["placement", "position", "pk"]
        indexes = [models.Index(fields=["merchant", "is_active"], name="page_block_active_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(starts_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="page_block_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.title or self.get_kind_display()

    def save(self, *args: object, **kwargs: object) -> None:
        from trackpage.sanitising import sanitise_block_html

        self.html = sanitise_block_html(self.html)
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        self.forget_cached()

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)  # type: ignore[arg-type]
        self.forget_cached()
        return deleted

    def forget_cached(self) -> None:
        """Drop the merchant's cached blocks (trackpage.selectors.page_blocks), every language."""
        from django.conf import settings
        from django.core.cache import cache

        cache.delete_many(
            [f"trackpage:blocks:{self.merchant_id}:{code}" for code, _name in settings.LANGUAGES]
        )


class TrackingLinkRevocation(TenantModel):
    """Tracking links of one order signed before `revoked_before` no longer open the page."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="link_revocation")
    revoked_before = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"links of {self.order_id} before {self.revoked_before:%Y-%m-%d %H:%M}"


class PageView(TenantModel):
    """One visitor's views of one order's page: counted, not logged one row per hit."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="page_views")
    visitor = models.CharField(max_length=32, help_text=_("Salted hash of a random cookie."))
    via = models.CharField(max_length=16, help_text=_("link, lookup or tracking_number"))
    views = models.PositiveIntegerField(default=1)
    first_viewed_at = models.DateTimeField()
    last_viewed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "visitor"], name="page_view_once_per_visitor")
        ]
        indexes = [models.Index(fields=["merchant", "last_viewed_at"], name="page_view_recent_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} by {self.visitor[:8]} x{self.views}"


class LinkKind(models.TextChoices):
    STORE = "store", _("Store")
    PRODUCT = "product", _("Recommended product")
    PROMOTION = "promotion", _("Promotion")
    BLOCK = "block", _("Merchant block link")
    SUPPORT = "support", _("Support")
    CARRIER = "carrier", _("Carrier")
    RETURN = "return", _("Return")

    @classmethod
    def store_kinds(cls) -> tuple[str, ...]:
        """Clicks that lead into the merchant's store (the numerator of click-through rate)."""
        return (cls.STORE, cls.PRODUCT, cls.PROMOTION, cls.BLOCK)


class LinkClick(TenantModel):
    """One click on an outbound link of a tracking page, through the recording redirect."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="link_clicks")
    visitor = models.CharField(max_length=32)
    kind = models.CharField(max_length=12, choices=LinkKind.choices)
    url = models.URLField(max_length=1000, help_text=_("Destination before UTM parameters."))
    clicked_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["order", "kind"], name="link_click_order_kind_idx"),
            models.Index(fields=["merchant", "clicked_at"], name="link_click_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.url}"


class ConversionTouch(models.TextChoices):
    CLICK = "click", _("Clicked through from the tracking page")
    VIEW = "view", _("Viewed the tracking page")


class Conversion(TenantModel):
    """A later order of the same customer attributed to an earlier order's tracking page."""

    order = models.OneToOneField(
        Order, on_delete=models.CASCADE, related_name="page_conversion", help_text=_("New order.")
    )
    source_order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="page_conversions_led"
    )
    touch = models.CharField(max_length=8, choices=ConversionTouch.choices)
    click = models.ForeignKey(LinkClick, on_delete=models.SET_NULL, null=True, blank=True)
    touched_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.order_id} from {self.source_order_id} ({self.touch})"


class DeliveryRating(TenantModel):
    """The shopper's one-tap rating of a delivered shipment (changeable, one per shipment)."""

    shipment = models.OneToOneField(Shipment, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 for {self.shipment_id}"


class OrderEngagement(Order):
    """The console's view of an order's tracking-page engagement (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("tracking page engagement")
        verbose_name_plural = _("tracking page engagement")
