"""The shopper's tracking page: lookup, the page and its live fragment, calendar, rating, and the
recording redirect. Views resolve the merchant and the language, call one selector or service,
and render; the page's read model and rules live in selectors, services and presentation.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from commerce.models import Order
from postpurchase.errors import DomainError, NotFoundError
from postpurchase.models import Merchant
from tracking.models import Shipment
from trackpage import csrf_tokens, destinations, links, rendering, selectors, services, shared_cache
from trackpage.client_address import client_ip
from trackpage.errors import TrackPageErrorCode
from trackpage.forms import OrderLookupForm, RatingForm, TrackingNumberForm
from trackpage.ics import delivery_window_ics
from trackpage.links import PageRef
from trackpage.selectors import TrackingPage

VISITOR_COOKIE = "tp_visitor"


# --- Request plumbing -------------------------------------------------------------------------


def _merchant(slug: str) -> Merchant:
    """The active merchant of the slug, at most a minute old (branding changes show within it)."""
    merchant = selectors.page_merchant(slug=slug)
    if merchant is None:
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


def _base_context(request: HttpRequest, merchant: Merchant, language: str) -> dict[str, Any]:
    return rendering.base_context(merchant, language)


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


@require_GET
def page(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    tracking: TrackingPage | None = None
    keep = None  # a head read from the database, kept by the page's Lua command below
    try:
        ref = links.page_token_read(merchant_slug=merchant.slug, token=token)
        head, keep = selectors.page_head_kept(merchant=merchant, ref=ref)
        if head is not None:
            services.link_issued_check(revoked_before=head.revoked_before, issued_at=ref.issued_at)
        else:
            tracking, _ref = _load_page(merchant, token)
            head = tracking.head()
    except DomainError as error:
        if keep is not None:  # a revoked link's head is kept too: its next view is no query
            keep.store()
        return _link_problem(request, merchant, language, error)
    visitor, new_cookie = _visitor(request, merchant)
    view = services.PageViewCount(
        merchant_id=merchant.pk, order_id=head.order_id, visitor=visitor, via="link"
    )
    rated = request.GET.get("rated")
    # The view is counted in the same cache round trip as the page is read, when it can be.
    also = view.script if keep is None else shared_cache.combined(view.script, keep.script)
    html, page_blocks, counted = rendering.page_cached(
        merchant=merchant, head=head, language=language, also=also
    )
    if not counted:
        services.page_view_count(view)
        if keep is not None:
            keep.store()
    if html is None or rated:
        if tracking is None:
            try:
                tracking, _ref = _load_page(merchant, token)
            except DomainError as error:  # changed since the head was read
                return _link_problem(request, merchant, language, error)
        if rated:  # the thank-you note is this visitor's alone: not stored
            html = rendering.page_render(
                tracking, language=language, page_blocks=page_blocks, rated=rated
            )
        else:
            html = rendering.page_store(tracking, language=language, page_blocks=page_blocks)
    body = rendering.personalise(
        html, token=token, csrf_token=lambda: csrf_tokens.get_token(request)
    )
    response = HttpResponse(body)
    _set_visitor(response, new_cookie)
    return _finish(request, response, language)


@require_GET
def live(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    """The shipments fragment alone, polled by htmx while a parcel moves (not a page view)."""
    merchant = _merchant(merchant_slug)
    language = _language(request, merchant)
    try:
        tracking, _ref = _load_page(merchant, token)
    except DomainError:
        return HttpResponse(status=286)  # htmx: stop polling
    html = rendering.shipments_html(tracking, token=token, language=language)
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
    context = rendering.page_context(tracking, token=token, language=language)
    forms = rendering.rating_forms(context["delivered"], None)
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
        "shipments_html": rendering.shipments_html(tracking, token=token, language=language),
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
    html = rendering.shipments_html(tracking, token=token, language=language)
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
