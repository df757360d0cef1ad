"""Reads of the tracking page: the order a link opens, its shipments, timeline, items, the
merchant's blocks and the recommendations, in a fixed number of queries whatever the number of
shipments and events.

`tracking_page` builds the whole read model in two steps: the order and its shipments (enough to
key the cached fragment), then `TrackingPage.timeline_load()` for events and items, which the view
calls only when the fragment is not in the cache.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Prefetch, Q
from django.db.models.query import prefetch_related_objects
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from commerce.models import CoPurchase, Order, OrderLine, Product, ProductSales
from postpurchase.errors import NotFoundError
from postpurchase.models import Merchant
from tracking.models import Shipment, ShipmentLine, TrackingEvent
from trackpage import shared_cache
from trackpage.errors import TrackPageErrorCode
from trackpage.links import PageRef, RefKind
from trackpage.models import DeliveryRating, MerchantPageBlock, TrackingLinkRevocation

RECOMMENDATIONS = 4
RECOMMENDATIONS_TTL = 15 * 60
NOT_FOUND = "We could not find this order."


MERCHANT_CACHE_SECONDS = 60
_page_merchants: dict[str, tuple[float, Merchant | None]] = {}


def page_merchant(*, slug: str) -> Merchant | None:
    """The active merchant of the slug, as the database had it at most a minute ago.

    Read from the database at most once a minute across processes: the shared cache keeps it with
    the time it was read, and each process keeps it in memory until that minute is over, so a
    page view usually does no round trip for it. A branding change or a deactivation shows within
    the minute (no later than with the shared cache alone). The instance is shared by the
    process's requests: callers only read it.
    """
    now = time.time()
    memo = _page_merchants.get(slug)
    if memo is not None and now < memo[0]:
        return memo[1]
    key = f"trackpage:merchant:v2:{slug}"
    stored = shared_cache.get(key)  # (read at, merchant or False)
    if stored is None or now >= stored[0] + MERCHANT_CACHE_SECONDS:
        merchant = Merchant.objects.filter(slug=slug, is_active=True).first()
        stored = (now, merchant or False)
        cache.set(key, stored, MERCHANT_CACHE_SECONDS)
    if len(_page_merchants) >= 10_000:  # slugs are guessable: keep the memo bounded
        _page_merchants.clear()
    _page_merchants[slug] = (stored[0] + MERCHANT_CACHE_SECONDS, stored[1] or None)
    return stored[1] or None


def page_merchants_forget() -> None:
    """Empty this process's memo of merchants (tests, after emptying the shared cache)."""
    _page_merchants.clear()


@dataclass(frozen=True)
class Item:
    title: str
    quantity: int
    sku: str
    image_url: str


@dataclass(frozen=True)
class Recommendation:
    title: str
    url: str
    image_url: str
    price: str
    currency: str


@dataclass
class ShipmentCard:
    shipment: Shipment
    events: list[TrackingEvent] = field(default_factory=list)  # newest first
    items: list[Item] = field(default_factory=list)


@dataclass
class TrackingPage:
    """The read model of one tracking page."""

    merchant: Merchant
    order: Order | None  # None on the status-only view (tracking-number lookup)
    cards: list[ShipmentCard]
    status_only: bool = False
    unshipped: list[Item] = field(default_factory=list)
    timeline_loaded: bool = False

    @property
    def shipments(self) -> list[Shipment]:
        return [card.shipment for card in self.cards]

    @property
    def version(self) -> str:
        """Changes whenever anything shown in the shipments fragment changes."""
        return _version(
            [(s.pk, s.updated_at) for s in self.shipments],
            self.order.updated_at if self.order is not None else None,
        )

    def head(self) -> PageHead:
        """The page's head from the loaded objects, the same as `page_head` reads (revocation
        included: render-ahead keeps it for the view)."""
        assert self.order is not None
        ratings = []
        for shipment in self.shipments:
            rating = getattr(shipment, "rating", None)
            if rating is not None:
                ratings.append((rating.pk, rating.updated_at))
        try:
            revocation: TrackingLinkRevocation | None = self.order.link_revocation
        except TrackingLinkRevocation.DoesNotExist:
            revocation = None
        return PageHead(
            order_id=self.order.pk,
            version=self.version,
            ratings=_version(ratings, None),
            customer_zone=self.order.customer.time_zone if self.order.customer_id else "",
            moving=is_moving(self),
            revoked_before=revocation.revoked_before if revocation is not None else None,
        )

    def timeline_load(self) -> None:
        """Events (newest first), carried and unshipped items: three queries in all."""
        timelines_load([self])


def timelines_load(pages: Sequence[TrackingPage]) -> None:
    """Events, carried items and unshipped items of many pages: one query each for all the
    pages' events and carried lines, one per order for its unshipped lines."""
    pages = [page for page in pages if not page.timeline_loaded]
    shipments = [card.shipment for page in pages for card in page.cards]
    lookups: list[Any] = [
        Prefetch(
            "events",
            # An aggregator's report of a scan the carrier's own row shows is not shown again.
            queryset=TrackingEvent.objects.filter(duplicate_of__isnull=True).order_by(
                "-occurred_at", "-id"
            ),
            to_attr="timeline",
        )
    ]
    if any(not page.status_only for page in pages):
        lookups.append(
            Prefetch(
                "shipment_lines",
                queryset=ShipmentLine.objects.select_related("order_line__product").order_by("pk"),
                to_attr="carried",
            )
        )
    prefetch_related_objects(shipments, *lookups)
    unshipped = unshipped_items_many(
        order_ids=[
            page.order.pk for page in pages if page.order is not None and not page.status_only
        ]
    )
    for page in pages:
        if page.order is not None and not page.status_only:
            page.unshipped = unshipped.get(page.order.pk, [])
        for card in page.cards:
            card.events = list(card.shipment.timeline)  # type: ignore[attr-defined]
            if not page.status_only:
                card.items = [_item(sl.order_line, sl.quantity) for sl in card.shipment.carried]  # type: ignore[attr-defined]
        page.timeline_loaded = True


def _version(stamps: list[tuple[int, Any]], order_updated_at: datetime | None) -> str:
    parts = [f"{pk}.{_aware(at).timestamp():.6f}" for pk, at in stamps if at]
    if order_updated_at is not None:
        parts.append(f"o{_aware(order_updated_at).timestamp():.6f}")
    return "-".join(parts) or "empty"


def _aware(value: Any) -> datetime:
    """A raw cursor's timestamp (aware on PostgreSQL, naive UTC or text on SQLite), made aware."""
    if isinstance(value, str):
        value = parse_datetime(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PageHead:
    """What the whole rendered page depends on besides the merchant, language and day: enough to
    key its cache and to refuse a revoked link without loading the page."""

    order_id: int
    version: str  # shipments' and order's updated_at, as TrackingPage.version
    ratings: str  # the shipments' ratings (pk and updated_at)
    customer_zone: str  # an input of the destination time zone not covered by `version`
    moving: bool
    revoked_before: datetime | None


_FINAL = frozenset({"delivered", "returned_to_sender", "cancelled", "expired"})


def head_sql() -> str:
    """The head's query: the link's shipment by public_id, its order's shipments by order_id,
    customer zone, ratings and revocation (parameters: public id, merchant id). On PostgreSQL
    the page runs it as the `trackpage_page_head` function instead (migration 0002), whose
    plan PostgreSQL keeps per connection (a first view: ≈ 1.1 ms of the backend's CPU planned
    here, ≈ 0.2 ms through the function)."""
    q = connection.ops.quote_name
    shipment, order = q(Shipment._meta.db_table), q(Order._meta.db_table)
    customer = q(Order._meta.get_field("customer").related_model._meta.db_table)
    rating, revocation = q(DeliveryRating._meta.db_table), q(TrackingLinkRevocation._meta.db_table)
    # Only table names from the models are formatted in.
    return (
        "SELECT s.id, s.updated_at, s.status, o.id, o.updated_at, c.time_zone, r.id, "  # noqa: S608
        "r.updated_at, lr.revoked_before "
        f"FROM {shipment} anchor "
        f"JOIN {order} o ON o.id = anchor.order_id AND o.merchant_id = anchor.merchant_id "
        f"JOIN {shipment} s ON s.order_id = o.id AND s.merchant_id = anchor.merchant_id "
        f"LEFT JOIN {customer} c ON c.id = o.customer_id "
        f"LEFT JOIN {rating} r ON r.shipment_id = s.id "
        f"LEFT JOIN {revocation} lr ON lr.order_id = o.id "
        "WHERE anchor.public_id = %s AND anchor.merchant_id = %s "
        "ORDER BY s.created_at, s.id"
    )


HEAD_FUNCTION_SQL = "SELECT * FROM trackpage_page_head(%s, %s)"


def page_head(*, merchant: Merchant, ref: PageRef) -> PageHead | None:
    """The head of a shipment link's page in one indexed query (public_id, then the order's
    shipments by order_id); None for an order link (the caller loads the page instead)."""
    if ref.kind is not RefKind.SHIPMENT:
        return None
    sql = HEAD_FUNCTION_SQL if connection.vendor == "postgresql" else head_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [ref.value, merchant.pk])
        rows = cursor.fetchall()
    if not rows:
        raise NotFoundError(TrackPageErrorCode.NOT_FOUND, NOT_FOUND)
    first = rows[0]
    return PageHead(
        order_id=first[3],
        version=_version([(row[0], row[1]) for row in rows], first[4]),
        ratings=_version([(row[6], row[7]) for row in rows if row[6] is not None], None),
        customer_zone=first[5] or "",
        moving=any(row[2] not in _FINAL for row in rows),
        revoked_before=_aware(first[8]) if first[8] is not None else None,
    )


def head_keys(merchant_id: int, public_id: str) -> tuple[str, str]:
    """The cache key of a shipment link's page head, and of the tag it is valid under."""
    return (
        f"trackpage:head:{merchant_id}:{public_id}",
        f"trackpage:headtag:{merchant_id}:{public_id}",
    )


def page_head_cached(*, merchant: Merchant, ref: PageRef) -> PageHead | None:
    """`page_head`, kept in Redis per link for TRACKPAGE_HEAD_TTL seconds (none without Redis).

    Kept under a tag (`shared_cache.tagged_get`) that `services.page_heads_forget` renews: on
    the order's events (through the render-ahead handler), and before and after a rating or a
    revocation is written. Only a head read from the database for this merchant is kept, under
    this merchant's key; a link that finds nothing is not kept.
    """
    head, keep = page_head_kept(merchant=merchant, ref=ref)
    if keep is not None:
        keep.store()
    return head


def page_head_kept(
    *, merchant: Merchant, ref: PageRef
) -> tuple[PageHead | None, shared_cache.TaggedKeep | None]:
    """`page_head_cached`, but a head read from the database is returned with its keep not yet
    done: the page view does it in its one Lua command (`TaggedKeep.script`), or, if it does not
    get that far, `TaggedKeep.store`. The keep is under the tag read before the query, as
    `page_head_cached`'s, so a writer's renewal in between still makes it stale."""
    if ref.kind is not RefKind.SHIPMENT or shared_cache.shared() is None:
        return page_head(merchant=merchant, ref=ref), None
    key, tag_key = head_keys(merchant.pk, ref.value)
    head, tag = shared_cache.tagged_get(key, tag_key)
    if head is not None:
        return head, None
    head = page_head(merchant=merchant, ref=ref)
    return head, shared_cache.TaggedKeep(key, tag, head, settings.TRACKPAGE_HEAD_TTL)


def _item(line: OrderLine, quantity: int) -> Item:
    image = line.product.image_url if line.product is not None else ""
    return Item(title=line.title, quantity=quantity, sku=line.sku, image_url=image)


def page_order(*, merchant: Merchant, ref: PageRef) -> Order:
    """The order a verified link points at, within this merchant only."""
    orders = Order.objects.for_merchant(merchant).select_related("customer", "link_revocation")
    if ref.kind is RefKind.SHIPMENT:
        order = orders.filter(shipments__public_id=ref.value).first()
    else:
        order = orders.filter(external_id=ref.value).first()
    if order is None:
        raise NotFoundError(TrackPageErrorCode.NOT_FOUND, NOT_FOUND)
    return order


def tracking_page(*, merchant: Merchant, ref: PageRef) -> TrackingPage:
    """The order's page: the order and all its shipments in one query (events load on demand)."""
    if ref.kind is RefKind.SHIPMENT:
        shipments = list(
            Shipment.objects.for_merchant(merchant)
            .filter(order__shipments__public_id=ref.value)
            .select_related("order__customer", "order__link_revocation", "rating")
            .order_by("created_at", "pk")
        )
        if not shipments:
            raise NotFoundError(TrackPageErrorCode.NOT_FOUND, NOT_FOUND)
        order = shipments[0].order
        for shipment in shipments:
            shipment.order = order  # one order object for the whole page
    else:
        order = page_order(merchant=merchant, ref=ref)
        shipments = list(
            Shipment.objects.for_merchant(merchant)
            .filter(order=order)
            .select_related("rating")
            .order_by("created_at", "pk")
        )
    return TrackingPage(
        merchant=merchant, order=order, cards=[ShipmentCard(shipment=s) for s in shipments]
    )


def tracking_pages_for_orders(
    *, merchant: Merchant, order_ids: Sequence[int]
) -> list[TrackingPage]:
    """The pages of many orders of one merchant, as `tracking_page` builds each: the orders with
    their shipments in one query, and one more for the orders that have no shipment yet."""
    shipments = (
        Shipment.objects.for_merchant(merchant)
        .filter(order_id__in=list(order_ids))
        .select_related("order__customer", "order__link_revocation", "rating")
        .order_by("order_id", "created_at", "pk")
    )
    by_order: dict[int, list[Shipment]] = {}
    orders: dict[int, Order] = {}
    for shipment in shipments:
        order = orders.setdefault(shipment.order_id, shipment.order)
        shipment.order = order  # one order object for the whole page
        by_order.setdefault(order.pk, []).append(shipment)
    missing = [pk for pk in order_ids if pk not in orders]
    if missing:
        for order in (
            Order.objects.for_merchant(merchant)
            .filter(pk__in=missing)
            .select_related("customer", "link_revocation")
        ):
            orders[order.pk] = order
    return [
        TrackingPage(
            merchant=merchant,
            order=orders[pk],
            cards=[ShipmentCard(shipment=s) for s in by_order.get(pk, [])],
        )
        for pk in dict.fromkeys(order_ids)
        if pk in orders
    ]


def status_page(*, merchant: Merchant, ref: PageRef) -> TrackingPage:
    """One shipment's status with no order details (the tracking-number lookup's answer)."""
    shipment = Shipment.objects.for_merchant(merchant).filter(public_id=ref.value).first()
    if shipment is None:
        raise NotFoundError(TrackPageErrorCode.NOT_FOUND, NOT_FOUND)
    return TrackingPage(
        merchant=merchant, order=None, cards=[ShipmentCard(shipment=shipment)], status_only=True
    )


def unshipped_items(*, order: Order) -> list[Item]:
    """Lines (or parts of lines) of the order in no shipment yet: one hand-written query."""
    return unshipped_items_many(order_ids=[order.pk]).get(order.pk, [])


def unshipped_items_many(*, order_ids: Sequence[int]) -> dict[int, list[Item]]:
    """The unshipped items of many orders in one query, by order id (orders with none absent)."""
    if not order_ids:
        return {}
    q = connection.ops.quote_name
    line, product = q(OrderLine._meta.db_table), q(Product._meta.db_table)
    carried = q(ShipmentLine._meta.db_table)
    placeholders = ", ".join(["%s"] * len(order_ids))
    # Only table names from the models are formatted in.
    sql = f"""
        SELECT l.order_id, l.title, l.sku, l.quantity, p.image_url,
               (SELECT SUM(sl.quantity) FROM {carried} sl WHERE sl.order_line_id = l.id)
        FROM {line} l LEFT JOIN {product} p ON p.id = l.product_id
        WHERE l.order_id IN ({placeholders}) ORDER BY l.order_id, l.id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, list(order_ids))
        rows = cursor.fetchall()
    found: dict[int, list[Item]] = {}
    for order_id, title, sku, quantity, image, shipped in rows:
        if quantity > (shipped or 0):
            found.setdefault(order_id, []).append(
                Item(
                    title=title, quantity=quantity - (shipped or 0), sku=sku, image_url=image or ""
                )
            )
    return found


BLOCKS_TTL = 60


def blocks_cache_key(merchant_id: int, language: str) -> str:
    return f"trackpage:blocks:{merchant_id}:{language}"


def page_blocks(*, merchant: Merchant, language: str) -> list[MerchantPageBlock]:
    """The merchant's active blocks for this language, cached a minute (cleared on save)."""
    key = blocks_cache_key(merchant.pk, language)
    cached = cache.get(key)
    if cached is not None:
        return list(cached)
    now = timezone.now()
    blocks = list(
        MerchantPageBlock.objects.for_merchant(merchant)
        .filter(is_active=True)
        .filter(Q(language="") | Q(language=language))
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("placement", "position", "pk")
    )
    cache.set(key, blocks, BLOCKS_TTL)
    return blocks


def recommendations(*, order: Order, limit: int = RECOMMENDATIONS) -> list[Recommendation]:
    """Products bought together with this order's, else the best sellers of its categories.

    Never a product the customer already bought, nor one out of stock or without a page.
    Cached per order for a quarter of an hour.
    """
    return recommendations_many(orders=[order], limit=limit)[order.pk]


def _recommendations_key(order_id: int) -> str:
    return f"trackpage:recs:{order_id}"


def recommendations_many(
    *, orders: Sequence[Order], limit: int = RECOMMENDATIONS
) -> dict[int, list[Recommendation]]:
    """`recommendations` of many orders, by order id: one cache read and one write for all."""
    keys = {order.pk: _recommendations_key(order.pk) for order in orders}
    cached = cache.get_many(list(keys.values())) if keys else {}
    found: dict[int, list[Recommendation]] = {}
    computed: dict[str, list[dict[str, str]]] = {}
    for order in orders:
        if order.pk in found:
            continue
        rows = cached.get(keys[order.pk])
        if rows is not None:
            found[order.pk] = [Recommendation(**row) for row in rows]
            continue
        found[order.pk] = _recommended(order=order, limit=limit)
        computed[keys[order.pk]] = [r.__dict__ for r in found[order.pk]]
    if computed:
        cache.set_many(computed, RECOMMENDATIONS_TTL)
    return found


def _recommended(*, order: Order, limit: int) -> list[Recommendation]:
    """One query for the bought-together products (with their details), one more to top up only
    when fewer than `limit` were found.

    The figures are precomputed (`commerce.stats`: `CoPurchase`, orders holding two products;
    `ProductSales`, units sold), so a page reads a few hundred rows instead of aggregating all
    the merchant's order lines; stock, page URL, category and what the customer bought are
    read here, from current data. A product's bought-together score is the sum, over the order's
    products, of the orders holding both (`tests/trackpage/test_recommendations_precomputed.py`
    checks it against the same ranking computed from the order lines)."""
    q = connection.ops.quote_name
    line, product = q(OrderLine._meta.db_table), q(Product._meta.db_table)
    orders, together = q(Order._meta.db_table), q(CoPurchase._meta.db_table)
    sales = q(ProductSales._meta.db_table)
    # Only table names from the models are formatted in.
    basket = f"SELECT product_id FROM {line} WHERE order_id = %(order)s AND product_id IS NOT NULL"  # noqa: S608
    candidate = f"""
        p.merchant_id = %(merchant)s AND p.in_stock AND p.url <> ''
          AND p.id NOT IN (
            SELECT bl.product_id FROM {line} bl JOIN {orders} bo ON bo.id = bl.order_id
            WHERE bo.merchant_id = %(merchant)s AND bo.customer_id = %(customer)s
              AND bl.product_id IS NOT NULL
          )
    """  # noqa: S608
    columns = "p.id, p.title, p.url, p.image_url, p.price, p.currency"
    params: dict[str, Any] = {
        "order": order.pk,
        "merchant": order.merchant_id,
        "customer": order.customer_id,
        "limit": limit,
    }
    # Summed over the pairs first (integers only), then joined to the candidates' current rows.
    together_sql = f"""
        SELECT {columns}, t.score FROM (
            SELECT c.other_id, SUM(c.orders) AS score FROM {together} c
            WHERE c.product_id IN ({basket}) GROUP BY c.other_id
        ) t JOIN {product} p ON p.id = t.other_id
        WHERE {candidate}
        ORDER BY t.score DESC, p.id LIMIT %(limit)s
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(together_sql, params)
        rows = [row[:6] for row in cursor.fetchall()]
        if len(rows) < limit:
            chosen = [row[0] for row in rows] or [0]
            params |= {"left": limit - len(rows)}
            params |= {f"c{i}": pk for i, pk in enumerate(chosen)}
            placeholders = ", ".join(f"%(c{i})s" for i in range(len(chosen)))
            category_sql = f"""
                SELECT {columns}, s.quantity AS score
                FROM {sales} s JOIN {product} p ON p.id = s.product_id
                WHERE s.merchant_id = %(merchant)s AND {candidate}
                  AND p.category <> '' AND p.id NOT IN ({placeholders})
                  AND p.category IN (
                    SELECT bp.category FROM {product} bp WHERE bp.id IN ({basket})
                  )
                ORDER BY score DESC, p.id LIMIT %(left)s
            """  # noqa: S608
            cursor.execute(category_sql, params)
            rows += [row[:6] for row in cursor.fetchall()]
    price = Product._meta.get_field("price")
    places = Decimal(1).scaleb(-price.decimal_places)
    return [
        Recommendation(
            title=title,
            url=url,
            image_url=image_url,
            price=str(Decimal(str(amount)).quantize(places)),
            currency=currency,
        )
        for _pk, title, url, image_url, amount, currency in rows
    ]


def is_moving(page: TrackingPage) -> bool:
    """Whether any shipment can still change (the page then polls for updates)."""
    return any(s.status not in _FINAL for s in page.shipments) or not page.shipments
