"""The tracking page's HTML, rendered without a request: by the page view on a cache miss, and
ahead of the first view by `services.page_render_ahead` (on the shipment's and order's events).

Rendered HTML is shared by every link of an order and every visitor, so it holds placeholders
where the link's token and the CSRF token go; `personalise` writes one response's own in.
A page is stored under a key of everything it shows (`page_key`) plus the signature of the
merchant blocks it shows, so a change of any of them is a miss and shows at once.
"""

from __future__ import annotations

import hashlib
import zlib
import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone, translation

from postpurchase.models import Merchant
from tracking.models import Shipment
from trackpage import destinations, links, presentation, selectors, shared_cache
from trackpage.forms import RatingForm
from trackpage.links import GoTarget
from trackpage.models import LinkKind, MerchantPageBlock
from trackpage.sanitising import sanitise_block_html
from trackpage.selectors import PageHead, TrackingPage

# Cached HTML is shared by every link of an order; each response puts its own token here.
TOKEN_SLOT = "token-slot-9d41c2"  # noqa: S105 (a placeholder, not a secret)
CSRF_SLOT = "csrf-slot-5be07a"


# --- Shared pieces ------------------------------------------------------------------------------


def branding(merchant: Merchant) -> dict[str, str]:
    return {
        "primary": merchant.primary_colour,
        "on_primary": readable_on(merchant.primary_colour),
        "accent": merchant.accent_colour,
        "text": merchant.text_colour,
        "background": merchant.background_colour,
        # Only characters a font-family list needs: nothing can close the declaration.
        "font": "".join(ch for ch in merchant.font_family if ch.isalnum() or ch in " ,-'\"")
        or "system-ui, sans-serif",
    }


def readable_on(colour: str) -> str:
    """Black or white text, whichever contrasts more with `colour` (WCAG relative luminance)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def base_context(merchant: Merchant, language: str) -> dict[str, Any]:
    return {
        "merchant": merchant,
        "brand": branding(merchant),
        "language": language,
        "languages": [
            (code, name) for code, name in settings.LANGUAGES if code in merchant.offered_languages
        ],
        "lookup_url": path("trackpage:lookup", merchant.slug),
    }


def go_url(merchant: Merchant, *, url: str, kind: str, order_number: str) -> str:
    token = links.go_token(
        merchant_slug=merchant.slug,
        target=GoTarget(url=url, kind=kind, order_number=order_number),
    )
    return path("trackpage:go", merchant.slug, token=token)


# Characters `reverse` leaves as they are in a path segment (what tokens and public ids use).
_SAFE_SEGMENT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~:")
_SLOT = "path-slot-7c1e"


@lru_cache(maxsize=512)
def _path_pattern(name: str, slug: str, names: tuple[str, ...], prefix: str, urlconf: Any) -> str:
    values = {key: f"{_SLOT}{i}" for i, key in enumerate(names)}
    return reverse(name, urlconf=urlconf, kwargs={"merchant_slug": slug, **values})


def path(name: str, merchant_slug: str, **values: str) -> str:
    """`reverse(name, kwargs={"merchant_slug": ..., **values})`, resolved once per URL name and
    merchant and filled in after (a page builds ten of these); values with any character that
    `reverse` would quote or refuse go through `reverse` itself."""
    if any(not _SAFE_SEGMENT.issuperset(value) or not value for value in values.values()):
        return reverse(name, kwargs={"merchant_slug": merchant_slug, **values})
    pattern = _path_pattern(name, merchant_slug, tuple(values), get_script_prefix(), get_urlconf())
    for i, value in enumerate(values.values()):
        pattern = pattern.replace(f"{_SLOT}{i}", value)
    return pattern


def _go_factory(merchant: Merchant, order_number: str) -> Any:
    def go(url: str, kind: str) -> str | None:
        if not destinations.is_allowed_destination(merchant, url):
            return None
        return go_url(merchant, url=url, kind=kind, order_number=order_number)

    return go


def _block_href(merchant: Merchant, order_number: str, href: str) -> str | None:
    if href.startswith("mailto:"):
        return href
    if not destinations.is_merchant_url(merchant, href):
        return None  # the link text stays, the foreign link goes
    return go_url(merchant, url=href, kind=LinkKind.BLOCK, order_number=order_number)


def zone(page: TrackingPage) -> str:
    first = page.shipments[0] if page.shipments else None
    return presentation.destination_time_zone(
        shipment=first, order=page.order, fallback=page.merchant.time_zone
    )


# --- The shipments fragment (also polled alone by htmx) -----------------------------------------


def shipments_html(page: TrackingPage, *, token: str, language: str) -> str:
    """The shipments fragment for one link, cached until a shipment (or the order) changes."""
    return shipments_fragment(page, language=language).replace(TOKEN_SLOT, token)


def fragment_key(page: TrackingPage, *, language: str, destination_zone: str) -> str:
    order_key = page.order.pk if page.order is not None else f"s{page.shipments[0].pk}"
    return (
        f"trackpage:frag:{page.merchant.pk}:{order_key}:{int(page.status_only)}:{language}:"
        f"{destination_zone}:{page.version}:{selectors.is_moving(page)}:{timezone.localdate()}"
    )


def shipments_fragment(page: TrackingPage, *, language: str) -> str:
    destination_zone = zone(page)
    key = fragment_key(page, language=language, destination_zone=destination_zone)
    html = cache.get(key)
    if html is not None:
        return str(html)
    html = _shipments_render(page, language=language, destination_zone=destination_zone)
    cache.set(key, html, settings.TRACKPAGE_FRAGMENT_TTL)
    return html


def _shipments_render(page: TrackingPage, *, language: str, destination_zone: str) -> str:
    token = TOKEN_SLOT
    live_name = "trackpage:status_live" if page.status_only else "trackpage:live"
    live_url = path(live_name, page.merchant.slug, token=token)
    page.timeline_load()
    merchant = page.merchant
    number = page.order.number if page.order is not None else ""
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(destination_zone)).date()
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
                zone=destination_zone,
                today=today,
                carrier_url=go_url(
                    merchant, url=carrier_url, kind=LinkKind.CARRIER, order_number=number
                )
                if carrier_url
                else None,
            )
        )
    return render_to_string(
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
                c.public_id: path(
                    "trackpage:calendar", merchant.slug, token=token, shipment=c.public_id
                )
                for c in cards
                if c.window_start and not page.status_only
            },
            "language": language,
        },
    )


# --- The whole page -----------------------------------------------------------------------------


def page_context(
    page: TrackingPage,
    *,
    token: str,
    language: str,
    page_blocks: list[MerchantPageBlock] | None = None,
    recommended: list[selectors.Recommendation] | None = None,
    fragment: str | None = None,
) -> dict[str, Any]:
    """The page's context; `recommended` and `fragment` (the shipments fragment with the token
    placeholder) when the caller has them already (rendering ahead reads them for a batch)."""
    merchant = page.merchant
    order = page.order
    assert order is not None
    go = _go_factory(merchant, order.number)
    if recommended is None:
        recommended = selectors.recommendations(order=order)
    recommendations = [
        (rec, go(rec.url, LinkKind.PRODUCT))
        for rec in recommended
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
        **base_context(merchant, language),
        "order": order,
        "address": presentation.masked_address(order),
        "placed": presentation.format_day(order.placed_at.date(), language=language, style="long"),
        "shipments_html": fragment.replace(TOKEN_SLOT, token)
        if fragment is not None
        else shipments_html(page, token=token, language=language),
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
        "rate_url": path("trackpage:rate", merchant.slug, token=token),
    }


def rating_forms(delivered: list[Shipment], rated: str | None) -> list[dict[str, Any]]:
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


def page_render(
    page: TrackingPage,
    *,
    language: str,
    page_blocks: list[MerchantPageBlock],
    rated: str | None = None,
    recommended: list[selectors.Recommendation] | None = None,
    fragment: str | None = None,
) -> str:
    """The whole page with the token and CSRF placeholders (in the active language)."""
    context = page_context(
        page,
        token=TOKEN_SLOT,
        language=language,
        page_blocks=page_blocks,
        recommended=recommended,
        fragment=fragment,
    )
    context["rating_forms"] = rating_forms(context["delivered"], rated)
    context["csrf_token"] = CSRF_SLOT
    return render_to_string("trackpage/page.html", context)


def merchant_signature(merchant: Merchant) -> str:
    """Changes when anything of the (cached) merchant changes: branding, links, languages."""
    values = [getattr(merchant, f.attname) for f in merchant._meta.concrete_fields]
    return hashlib.blake2b(repr(values).encode(), digest_size=8).hexdigest()


def blocks_signature(page_blocks: list[MerchantPageBlock]) -> str:
    return repr([(b.pk, b.updated_at.isoformat()) for b in page_blocks])


def page_key(merchant: Merchant, head: PageHead, language: str) -> str:
    """The page's key; the blocks shown are checked against a signature stored with the HTML,
    so the blocks and the page come from the cache in one round trip."""
    identity = repr(
        (
            merchant_signature(merchant),
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


def page_cached(
    *,
    merchant: Merchant,
    head: PageHead,
    language: str,
    also: shared_cache.Also | None = None,
) -> tuple[str | None, list[MerchantPageBlock], bool]:
    """The stored page of this head and language (None when missing or its blocks changed), the
    merchant's blocks for the language, and whether `also` (Lua run by the same Redis command,
    see `shared_cache.get_many_with`) ran: one cache round trip when the page and blocks are
    there."""
    key = page_key(merchant, head, language)
    blocks_key = selectors.blocks_cache_key(merchant.pk, language)
    found = shared_cache.get_many_with([key, blocks_key], also) if also is not None else None
    piggybacked = found is not None
    if found is None:
        found = cache.get_many([key, blocks_key])
    page_blocks = found.get(blocks_key)
    if page_blocks is None:
        page_blocks = selectors.page_blocks(merchant=merchant, language=language)
    stored = found.get(key)
    if stored is None or stored[0] != blocks_signature(page_blocks):
        return None, page_blocks, piggybacked
    return _inflate(stored[1]), page_blocks, piggybacked


def page_store(
    page: TrackingPage, *, language: str, page_blocks: list[MerchantPageBlock] | None = None
) -> str:
    """Render the page and store it under its key (in the active language); return the HTML."""
    if page_blocks is None:
        page_blocks = selectors.page_blocks(merchant=page.merchant, language=language)
    html = page_render(page, language=language, page_blocks=page_blocks)
    key = page_key(page.merchant, page.head(), language)
    cache.set(key, (blocks_signature(page_blocks), _deflate(html)), settings.TRACKPAGE_PAGE_TTL)
    return html


# --- Many pages at once (rendering ahead) --------------------------------------------------------


def pages_stored_many(
    *, merchant: Merchant, wanted: list[tuple[PageHead, str]]
) -> tuple[set[tuple[int, str]], dict[str, list[MerchantPageBlock]]]:
    """Which of these (head, language) pages are stored under their current key with the blocks
    they show (as `page_cached` decides for one), and the merchant's blocks per language: one
    cache read for all."""
    keys = {
        (head.order_id, language): page_key(merchant, head, language) for head, language in wanted
    }
    languages = sorted({language for _, language in wanted})
    blocks_keys = {
        language: selectors.blocks_cache_key(merchant.pk, language) for language in languages
    }
    found = cache.get_many([*keys.values(), *blocks_keys.values()]) if keys else {}
    blocks: dict[str, list[MerchantPageBlock]] = {}
    for language in languages:
        cached_blocks = found.get(blocks_keys[language])
        blocks[language] = (
            list(cached_blocks)
            if cached_blocks is not None
            else selectors.page_blocks(merchant=merchant, language=language)
        )
    stored = {
        ident
        for ident, key in keys.items()
        if (value := found.get(key)) is not None and value[0] == blocks_signature(blocks[ident[1]])
    }
    return stored, blocks


def pages_store_many(due: list[tuple[TrackingPage, str, list[MerchantPageBlock]]]) -> None:
    """Render and store many pages (page, language, blocks shown), each as `page_store` would:
    the same keys and values, but the recommendations, the shipments fragments and the pages
    are read from and written to the cache once per call instead of once per page."""
    if not due:
        return
    pages = list({id(page): page for page, _, _ in due}.values())
    orders = [page.order for page in pages if page.order is not None]
    recommended = selectors.recommendations_many(orders=orders)
    zones = {id(page): zone(page) for page in pages}
    fragment_keys = {
        (id(page), language): fragment_key(
            page, language=language, destination_zone=zones[id(page)]
        )
        for page, language, _ in due
    }
    fragments = cache.get_many(list(set(fragment_keys.values())))
    new_fragments: dict[str, str] = {}
    stored: dict[str, tuple[str, bytes]] = {}
    for page, language, page_blocks in due:
        assert page.order is not None
        with translation.override(language):
            key = fragment_keys[(id(page), language)]
            fragment = fragments.get(key)
            if fragment is None:
                fragment = fragments[key] = new_fragments[key] = _shipments_render(
                    page, language=language, destination_zone=zones[id(page)]
                )
            html = page_render(
                page,
                language=language,
                page_blocks=page_blocks,
                recommended=recommended[page.order.pk],
                fragment=str(fragment),
            )
            stored[page_key(page.merchant, page.head(), language)] = (
                blocks_signature(page_blocks),
                _deflate(html),
            )
    if new_fragments:
        cache.set_many(new_fragments, settings.TRACKPAGE_FRAGMENT_TTL)
    cache.set_many(stored, settings.TRACKPAGE_PAGE_TTL)


def _deflate(html: str) -> bytes:
    """Pages are kept for a day, one per order: compressed, they take a fifth of the memory."""
    return zlib.compress(html.encode(), 1)


def _inflate(stored: bytes) -> str:
    return zlib.decompress(stored).decode()


def personalise(html: str, *, token: str, csrf_token: Callable[[], str]) -> str:
    """One response's copy of the shared HTML: its link token, and its CSRF token if needed."""
    html = html.replace(TOKEN_SLOT, token)
    if CSRF_SLOT in html:
        html = html.replace(CSRF_SLOT, csrf_token())
    return html
