"""The shopper's tracking page: lookup, the page and its live fragment, calendar, rating, and the
recording redirect. Views resolve the merchant and the language, call one selector or service,
and render; the page's read model and rules live in selectors, services and presentation.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from commerce.models import Order
from postpurchase.errors import DomainError, NotFoundError
from postpurchase.models import Merchant
from tracking.models import Shipment
from trackpage import destinations, links, presentation, selectors, services
from trackpage.client_address import client_ip
from trackpage.errors import TrackPageErrorCode
from trackpage.forms import OrderLookupForm, RatingForm, TrackingNumberForm
from trackpage.ics import delivery_window_ics
from trackpage.links import GoTarget, PageRef
from trackpage.models import LinkKind, MerchantPageBlock
from trackpage.sanitising import sanitise_block_html
from trackpage.selectors import TrackingPage

VISITOR_COOKIE = "tp_visitor"


# --- Request plumbing -------------------------------------------------------------------------


MERCHANT_CACHE_SECONDS = 60


def _merchant(slug: str) -> Merchant:
    """The active merchant of the slug, cached a minute (branding changes show within it)."""
    key = f"trackpage:merchant:{slug}"
    merchant = cache.get(key)
    if merchant is None:
        merchant = Merchant.objects.filter(slug=slug, is_active=True).first() or False
        cache.set(key, merchant, MERCHANT_CACHE_SECONDS)
    if not merchant:
        raise Http404(_("No such store."))
    return merchant


def _language(request: HttpRequest, merchant: Merchant) -> str:
    """?lang= (remembered in a cookie), else the browser's (LocaleMiddleware), else the store's."""
    offered = merchant.offered_languages
    wanted = request.GET.get("lang") or getattr(request, "LANGUAGE_CODE", "")
    language = wanted if wanted in offered else merchant.default_language
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def _finish(request: HttpRequest, response: HttpResponse, language: str) -> HttpResponse:
    response.headers["Content-Language"] = language
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.GET.get("lang") == language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 86400, samesite="Lax"
        )
    return response


def _visitor(request: HttpRequest, merchant: Merchant) -> tuple[str, str | None]:
    """(hashed visitor id, new cookie value to set or None)."""
    raw = request.COOKIES.get(VISITOR_COOKIE, "")
    new = None
    if not (16 <= len(raw) <= 64 and raw.replace("-", "").replace("_", "").isalnum()):
        raw = new = secrets.token_urlsafe(24)
    return services.visitor_id(merchant=merchant, cookie_value=raw), new


def _set_visitor(response: HttpResponse, new: str | None) -> None:
    if new is not None:
        response.set_cookie(
            VISITOR_COOKIE,
            new,
            max_age=365 * 86400,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )


def _branding(merchant: Merchant) -> dict[str, str]:
    return {
        "primary": merchant.primary_colour,
        "on_primary": _readable_on(merchant.primary_colour),
        "accent": merchant.accent_colour,
        "text": merchant.text_colour,
        "background": merchant.background_colour,
        # Only characters a font-family list needs: nothing can close the declaration.
        "font": "".join(ch for ch in merchant.font_family if ch.isalnum() or ch in " ,-'\"")
        or "system-ui, sans-serif",
    }


def _readable_on(colour: str) -> str:
    """Black or white text, whichever contrasts more with `colour` (WCAG relative luminance)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def _base_context(request: HttpRequest, merchant: Merchant, language: str) -> dict[str, Any]:
    return {
        "merchant": merchant,
        "brand": _branding(merchant),
        "language": language,
        "languages": [
            (code, name) for code, name in settings.LANGUAGES if code in merchant.offered_languages
        ],
        "lookup_url": reverse("trackpage:lookup", kwargs={"merchant_slug": merchant.slug}),
    }


def _go_url(merchant: Merchant, *, url: str, kind: str, order_number: str) -> str:
    token = links.go_token(
        merchant_slug=merchant.slug,
        target=GoTarget(url=url, kind=kind, order_number=order_number),
    )
    return reverse("trackpage:go", kwargs={"merchant_slug": merchant.slug, "token": token})


def _link_problem(
    request: HttpRequest, merchant: Merchant, language: str, error: DomainError
) -> HttpResponse:
    status = 410 if error.code == TrackPageErrorCode.LINK_EXPIRED else 404
    context = {**_base_context(request, merchant, language), "code": error.code}
    return _finish(
        request, render(request, "trackpage/link_problem.html", context, status=status), language
    )


# --- Lookup -------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    """Order number + email or postcode, or a tracking number alone."""
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    order_form = OrderLookupForm(prefix="order")
    number_form = TrackingNumberForm(prefix="parcel")
    problem = ""
    status = 200
    if request.method == "POST":
        mode = request.POST.get("mode")
        try:
            if mode == "tracking_number":
                number_form = TrackingNumberForm(request.POST, prefix="parcel")
                if number_form.is_valid():
                    shipment = services.shipment_lookup(
                        merchant=merchant,
                        tracking_number=number_form.cleaned_data["tracking_number"],
                        client=client_ip(request),
                    )
                    return redirect(_status_url(merchant, shipment))
            else:
                order_form = OrderLookupForm(request.POST, prefix="order")
                if order_form.is_valid():
                    order = services.order_lookup(
                        merchant=merchant,
                        order_number=order_form.cleaned_data["order_number"],
                        contact=order_form.cleaned_data["contact"],
                        client=client_ip(request),
                    )
                    return redirect(_page_url_for_order(merchant, order))
        except NotFoundError:
            problem = _("We could not find an order with these details. Check them and try again.")
        except DomainError as error:
            if error.code != TrackPageErrorCode.RATE_LIMITED:
                raise
            problem = _("Too many attempts. Please wait a few minutes and try again.")
            status = 429
        else:
            status = 400  # a form error, shown next to its field
    context = {
        **_base_context(request, merchant, language),
        "order_form": order_form,
        "number_form": number_form,
        "problem": problem,
        "mode": request.POST.get("mode", "order") if request.method == "POST" else "order",
    }
    response = render(request, "trackpage/lookup.html", context, status=status)
    return _finish(request, response, language)


def _page_url_for_order(merchant: Merchant, order: Order) -> str:
    first = Shipment.objects.filter(order=order).order_by("created_at", "pk").first()
    if first is not None:
        token = links.page_token_for_shipment(
            merchant_slug=merchant.slug, shipment_public_id=first.public_id
        )
    else:
        token = links.page_token_for_order(
            merchant_slug=merchant.slug, order_external_id=order.external_id
        )
    return reverse("trackpage:page", kwargs={"merchant_slug": merchant.slug, "token": token})


def _status_url(merchant: Merchant, shipment: Shipment) -> str:
    token = links.status_token(merchant_slug=merchant.slug, shipment_public_id=shipment.public_id)
    return reverse("trackpage:status", kwargs={"merchant_slug": merchant.slug, "token": token})


# --- The page -------------------------------------------------------------------------------------


def _load_page(merchant: Merchant, token: str) -> tuple[TrackingPage, PageRef]:
    ref = links.page_token_read(merchant_slug=merchant.slug, token=token)
    page = selectors.tracking_page(merchant=merchant, ref=ref)
    assert page.order is not None
    services.link_issued_allowed(order=page.order, issued_at=ref.issued_at)
    return page, ref


def _zone(page: TrackingPage) -> str:
    first = page.shipments[0] if page.shipments else None
    return presentation.destination_time_zone(
        shipment=first, order=page.order, fallback=page.merchant.time_zone
    )


# Cached fragments are shared by every link of an order; each response puts its own token here.
TOKEN_SLOT = "token-slot-9d41c2"  # noqa: S105 (a placeholder, not a secret)


def _shipments_html(page: TrackingPage, *, token: str, language: str) -> str:
    """The shipments fragment, cached until a shipment (or the order) changes."""
    return _shipments_fragment(page, language=language).replace(TOKEN_SLOT, token)


def _shipments_fragment(page: TrackingPage, *, language: str) -> str:
    zone = _zone(page)
    order_key = page.order.pk if page.order is not None else f"s{page.shipments[0].pk}"
    key = (
        f"trackpage:frag:{page.merchant.pk}:{order_key}:{int(page.status_only)}:{language}:"
        f"{zone}:{page.version}:{selectors.is_moving(page)}:{timezone.localdate()}"
    )
    html = cache.get(key)
    if html is not None:
        return str(html)
    token = TOKEN_SLOT
    live_name = "trackpage:status_live" if page.status_only else "trackpage:live"
    live_url = reverse(live_name, kwargs={"merchant_slug": page.merchant.slug, "token": token})
    page.timeline_load()
    merchant = page.merchant
    number = page.order.number if page.order is not None else ""
    today = timezone.now().astimezone(presentation.zoneinfo.ZoneInfo(zone)).date()
    cards = []
    for card in page.cards:
        shipment = card.shipment
        carrier_url = destinations.carrier_tracking_url(
            carrier=shipment.carrier, tracking_number=shipment.tracking_number
        )
        cards.append(
            presentation.card_view(
                card,
                language=language,
                zone=zone,
                today=today,
                carrier_url=_go_url(
                    merchant, url=carrier_url, kind=LinkKind.CARRIER, order_number=number
                )
                if carrier_url
                else None,
            )
        )
    html = render_to_string(
        "trackpage/_shipments.html",
        {
            "cards": cards,
            "unshipped": page.unshipped,
            "steps": presentation.step_labels(),
            "status_only": page.status_only,
            "moving": selectors.is_moving(page),
            "live_url": live_url,
            "refresh_seconds": settings.TRACKPAGE_REFRESH_SECONDS,
            "carrier_names": {c.carrier: destinations.carrier_name(c.carrier) for c in cards},
            "calendar_urls": {
                c.public_id: reverse(
                    "trackpage:calendar",
                    kwargs={
                        "merchant_slug": merchant.slug,
                        "token": token,
                        "shipment": c.public_id,
                    },
                )
                for c in cards
                if c.window_start and not page.status_only
            },
            "language": language,
        },
    )
    cache.set(key, html, settings.TRACKPAGE_FRAGMENT_TTL)
    return html


def _page_context(
    request: HttpRequest,
    page: TrackingPage,
    *,
    token: str,
    language: str,
    page_blocks: list[MerchantPageBlock] | None = None,
) -> dict[str, Any]:
    merchant = page.merchant
    order = page.order
    assert order is not None
    go = _go_factory(merchant, order.number)
    recommendations = [
        (rec, go(rec.url, LinkKind.PRODUCT))
        for rec in selectors.recommendations(order=order)
        if destinations.is_merchant_url(merchant, rec.url)
    ]
    blocks: list[dict[str, Any]] = []
    if page_blocks is None:
        page_blocks = selectors.page_blocks(merchant=merchant, language=language)
    for block in page_blocks:
        html = sanitise_block_html(
            block.html, rewrite_href=lambda href: _block_href(merchant, order.number, href)
        )
        link = go(block.link_url, LinkKind.PROMOTION) if block.link_url else None
        blocks.append({"block": block, "html": html, "link": link})
    delivered = [c.shipment for c in page.cards if c.shipment.status == "delivered"]
    return {
        **_base_context(request, merchant, language),
        "order": order,
        "address": presentation.masked_address(order),
        "placed": presentation.format_day(order.placed_at.date(), language=language, style="long"),
        "shipments_html": _shipments_html(page, token=token, language=language),
        "blocks_top": [b for b in blocks if b["block"].placement == "top"],
        "blocks_bottom": [b for b in blocks if b["block"].placement == "bottom"],
        "recommendations": recommendations,
        "store_link": go(merchant.website, LinkKind.STORE) if merchant.website else None,
        "support_email": merchant.support_email,
        "support_link": go(merchant.support_url, LinkKind.SUPPORT)
        if merchant.support_url
        else None,
        # The returns portal is not part of the platform yet: the action appears once it exists.
        "return_link": None,
        "delivered": delivered,
        "rate_url": reverse(
            "trackpage:rate", kwargs={"merchant_slug": merchant.slug, "token": token}
        ),
    }


def _go_factory(merchant: Merchant, order_number: str) -> Any:
    def go(url: str, kind: str) -> str | None:
        if not destinations.is_allowed_destination(merchant, url):
            return None
        return _go_url(merchant, url=url, kind=kind, order_number=order_number)

    return go


def _block_href(merchant: Merchant, order_number: str, href: str) -> str | None:
    if href.startswith("mailto:"):
        return href
    if not destinations.is_merchant_url(merchant, href):
        return None  # the link text stays, the foreign link goes
    return _go_url(merchant, url=href, kind=LinkKind.BLOCK, order_number=order_number)


# The whole page is cached too, per (merchant, order, language, day, shipments' / order's /
# ratings' versions, blocks): a change of any of them is a new key, so it shows at once. Each
# response puts its own link token and CSRF token into the shared HTML.
CSRF_SLOT = "csrf-slot-5be07a"


def _merchant_signature(merchant: Merchant) -> str:
    """Changes when anything of the (cached) merchant changes: branding, links, languages."""
    values = [getattr(merchant, f.attname) for f in merchant._meta.concrete_fields]
    return hashlib.blake2b(repr(values).encode(), digest_size=8).hexdigest()


def _blocks_signature(page_blocks: list[MerchantPageBlock]) -> str:
    return repr([(b.pk, b.updated_at.isoformat()) for b in page_blocks])


def _page_key(merchant: Merchant, head: selectors.PageHead, language: str) -> str:
    """The page's key; the blocks shown are checked against a signature stored with the HTML,
    so the blocks and the page come from the cache in one round trip."""
    identity = repr(
        (
            _merchant_signature(merchant),
            language,
            head.version,
            head.ratings,
            head.customer_zone,
            head.moving,
            timezone.localdate().isoformat(),
        )
    )
    digest = hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()
    return f"trackpage:page:{merchant.pk}:{head.order_id}:{digest}"


def _personalise(request: HttpRequest, html: str, token: str) -> str:
    html = html.replace(TOKEN_SLOT, token)
    if CSRF_SLOT in html:
        html = html.replace(CSRF_SLOT, get_token(request))
    return html


@require_GET
def page(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    tracking: TrackingPage | None = None
    try:
        ref = links.page_token_read(merchant_slug=merchant.slug, token=token)
        head = selectors.page_head(merchant=merchant, ref=ref)
        if head is not None:
            services.link_issued_check(revoked_before=head.revoked_before, issued_at=ref.issued_at)
        else:
            tracking, _ref = _load_page(merchant, token)
            head = tracking.head()
    except DomainError as error:
        return _link_problem(request, merchant, language, error)
    visitor, new_cookie = _visitor(request, merchant)
    services.page_view_count(
        merchant_id=merchant.pk, order_id=head.order_id, visitor=visitor, via="link"
    )
    rated = request.GET.get("rated")
    key = _page_key(merchant, head, language)
    blocks_key = selectors.blocks_cache_key(merchant.pk, language)
    found = {} if rated else cache.get_many([key, blocks_key])
    page_blocks = found.get(blocks_key)
    if page_blocks is None:
        page_blocks = selectors.page_blocks(merchant=merchant, language=language)
    blocks_signature = _blocks_signature(page_blocks)
    stored = found.get(key)
    html = stored[1] if stored is not None and stored[0] == blocks_signature else None
    if html is None:
        if tracking is None:
            try:
                tracking, _ref = _load_page(merchant, token)
            except DomainError as error:  # changed since the head was read
                return _link_problem(request, merchant, language, error)
        context = _page_context(
            request, tracking, token=TOKEN_SLOT, language=language, page_blocks=page_blocks
        )
        context["rating_forms"] = _rating_forms(context["delivered"], rated)
        context["csrf_token"] = CSRF_SLOT
        html = render_to_string("trackpage/page.html", context)
        if not rated:
            cache.set(key, (blocks_signature, html), settings.TRACKPAGE_FRAGMENT_TTL)
    response = HttpResponse(_personalise(request, str(html), token))
    _set_visitor(response, new_cookie)
    return _finish(request, response, language)


def _rating_forms(delivered: list[Shipment], rated: str | None) -> list[dict[str, Any]]:
    forms = []
    for shipment in delivered:
        existing = getattr(shipment, "rating", None)
        initial = {"shipment": shipment.public_id}
        if existing is not None:
            initial |= {"score": existing.score, "comment": existing.comment}
        forms.append(
            {
                "shipment": shipment,
                "form": RatingForm(initial=initial, auto_id=f"rate-{shipment.public_id}-%s"),
                "rated": existing is not None,
                "thanks": rated == shipment.public_id,
            }
        )
    return forms


@require_GET
def live(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    """The shipments fragment alone, polled by htmx while a parcel moves (not a page view)."""
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    try:
        tracking, _ref = _load_page(merchant, token)
    except DomainError:
        return HttpResponse(status=286)  # htmx: stop polling
    html = _shipments_html(tracking, token=token, language=language)
    return _finish(request, HttpResponse(html), language)


@require_POST
def rate(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    """One tap on a star (with an optional comment); on error nothing typed is lost."""
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    try:
        tracking, _ref = _load_page(merchant, token)
    except DomainError as error:
        return _link_problem(request, merchant, language, error)
    form = RatingForm(request.POST, auto_id="rate-%s")
    shipment = None
    if form.is_valid():
        shipment = next(
            (s for s in tracking.shipments if s.public_id == form.cleaned_data["shipment"]), None
        )
        if shipment is None:
            raise Http404(_("No such shipment in this order."))
        try:
            services.delivery_rating_submit(
                shipment=shipment,
                rating=services.RatingInput(
                    score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
                ),
            )
        except DomainError as error:
            form.add_error(
                error.field if error.field in form.fields else None, _rating_problem(error.code)
            )
        else:
            page_url = reverse(
                "trackpage:page", kwargs={"merchant_slug": merchant.slug, "token": token}
            )
            return HttpResponseRedirect(f"{page_url}?rated={shipment.public_id}#rating")
    context = _page_context(request, tracking, token=token, language=language)
    forms = _rating_forms(context["delivered"], None)
    posted = request.POST.get("shipment", "")
    for entry in forms:
        if entry["shipment"].public_id == posted:
            form.auto_id = f"rate-{posted}-%s"
            entry["form"] = form
    context["rating_forms"] = forms
    if not any(entry["form"] is form for entry in forms):
        # Not a delivered shipment of this page: say so where the rating would be.
        context["rating_error"] = " ".join(
            str(e) for errors in form.errors.values() for e in errors
        )
    response = render(request, "trackpage/page.html", context, status=400)
    return _finish(request, response, language)


def _rating_problem(code: str) -> str:
    if code == TrackPageErrorCode.RATING_NOT_DELIVERED:
        return _("You can rate the delivery once it has arrived.")
    return _("Choose from 1 to 5 stars, and keep the comment under 1000 characters.")


@require_GET
def calendar(request: HttpRequest, merchant_slug: str, token: str, shipment: str) -> HttpResponse:
    """The shipment's delivery window as an all-day calendar event (.ics)."""
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    try:
        tracking, _ref = _load_page(merchant, token)
    except DomainError as error:
        return _link_problem(request, merchant, language, error)
    found = next((s for s in tracking.shipments if s.public_id == shipment), None)
    if found is None or not (found.estimate_window_start and found.estimate_window_end):
        raise Http404(_("No delivery window to add yet."))
    assert tracking.order is not None
    page_url = request.build_absolute_uri(
        reverse("trackpage:page", kwargs={"merchant_slug": merchant.slug, "token": token})
    )
    body = delivery_window_ics(
        uid=f"{found.public_id}-delivery-window@{request.get_host().split(':')[0]}",
        start=found.estimate_window_start,
        end=found.estimate_window_end,
        summary=_("Delivery of order %(number)s from %(store)s")
        % {"number": tracking.order.number, "store": merchant.name},
        description=_("Expected delivery window. Track the parcel: %(url)s") % {"url": page_url},
        url=page_url,
        stamp=found.estimate_updated_at,
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="delivery-{tracking.order.number}.ics"'
    )
    return _finish(request, response, language)


@require_GET
def status(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    """A shipment's status without order details or personal data (tracking-number lookup)."""
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    try:
        ref = links.status_token_read(merchant_slug=merchant.slug, token=token)
        tracking = selectors.status_page(merchant=merchant, ref=ref)
    except DomainError as error:
        return _link_problem(request, merchant, language, error)
    context = {
        **_base_context(request, merchant, language),
        "shipments_html": _shipments_html(tracking, token=token, language=language),
    }
    return _finish(request, render(request, "trackpage/status.html", context), language)


@require_GET
def status_live(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    try:
        ref = links.status_token_read(merchant_slug=merchant.slug, token=token)
        tracking = selectors.status_page(merchant=merchant, ref=ref)
    except DomainError:
        return HttpResponse(status=286)
    html = _shipments_html(tracking, token=token, language=language)
    return _finish(request, HttpResponse(html), language)


# --- The recording redirect -------------------------------------------------------------------


@require_GET
def go(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    """Record the click, add UTM parameters on the merchant's own domains, and redirect.

    Only links this platform signed, and only to the merchant's domains or a carrier's site:
    never an open redirect.
    """
    merchant = _merchant(merchant_slug)
    try:
        target = links.go_token_read(merchant_slug=merchant.slug, token=token)
    except DomainError as error:
        raise Http404(_("This link is not valid.")) from error
    if not destinations.is_allowed_destination(merchant, target.url):
        raise Http404(_("This link is not valid."))
    visitor, new_cookie = _visitor(request, merchant)
    try:
        services.link_click_record(merchant=merchant, target=target, visitor=visitor)
    except DomainError as error:
        raise Http404(_("This link is not valid.")) from error
    url = target.url
    if destinations.is_merchant_url(merchant, url):
        url = destinations.with_utm(url, campaign="tracking_page", content=target.kind)
    response = HttpResponseRedirect(url)
    response.headers["Cache-Control"] = "no-store"
    _set_visitor(response, new_cookie)
    return response
