"""Every write of the tracking page: lookups (which count against rate limits), engagement,
ratings, link revocation and conversion attribution.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from commerce.models import Order
from postpurchase import outbox
from postpurchase.errors import DomainError, NotFoundError
from postpurchase.models import Merchant
from tracking.domain import ShipmentStatus
from tracking.models import Shipment
from tracking.services import tracking_number_normalise
from trackpage import rate_limits, rendering, selectors, shared_cache
from trackpage.errors import TrackPageErrorCode
from trackpage.links import GoTarget
from trackpage.models import (
    Conversion,
    ConversionTouch,
    DeliveryRating,
    LinkClick,
    LinkKind,
    PageView,
    TrackingLinkRevocation,
)

NOT_FOUND_MESSAGE = "We could not find an order with these details."
# Compared against when no order matched, so a miss costs the same work as a mismatch.
_ABSENT = "\x00absent\x00"


# --- Normalising what shoppers type -------------------------------------------------------------


def normalise_order_number(value: str) -> str:
    """'# 1001 ' and '1001' are the same order number."""
    return unicodedata.normalize("NFKC", value).strip().lstrip("#").strip()


def normalise_email(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def normalise_postcode(value: str) -> str:
    """'sw1a 1aa', 'SW1A1AA' and '100-0001' vs '1000001' compare equal (NFKC folds full-width)."""
    folded = unicodedata.normalize("NFKC", value)
    return re.sub(r"[\s\-\u2010\u2011\u2013\u2014]", "", folded).upper()


def _same(given: str, stored: str) -> bool:
    """Constant-time equality of two normalised values; an empty stored value never matches."""
    matched = hmac.compare_digest(given.encode(), (stored or _ABSENT).encode())
    return matched and bool(stored)


# --- Lookups ------------------------------------------------------------------------------------


def _throttle(*, merchant: Merchant, client: str, subject: str) -> None:
    """Count one attempt against the client's and the subject's budgets; raise if one is spent."""
    client_ok = rate_limits.hit(
        scope="client", value=client, limit=settings.TRACKPAGE_LOOKUP_LIMIT_PER_CLIENT
    )
    subject_ok = rate_limits.hit(
        scope="subject",
        value=f"{merchant.pk}:{subject}",
        limit=settings.TRACKPAGE_LOOKUP_LIMIT_PER_ORDER,
    )
    if not (client_ok and subject_ok):
        raise DomainError(
            TrackPageErrorCode.RATE_LIMITED, "Too many attempts. Please wait a few minutes."
        )


def order_lookup(*, merchant: Merchant, order_number: str, contact: str, client: str) -> Order:
    """The order whose number and email or postcode match; any mismatch is one NotFoundError."""
    number = normalise_order_number(order_number)
    _throttle(merchant=merchant, client=client, subject=f"order:{number.casefold()}")
    order = (
        Order.objects.for_merchant(merchant)
        .filter(number=number)
        .select_related("customer")
        .first()
    )
    stored_email = order.customer.email if order is not None else ""
    stored_postcode = order.shipping_postcode if order is not None else ""
    email_ok = _same(normalise_email(contact), normalise_email(stored_email))
    postcode_ok = _same(normalise_postcode(contact), normalise_postcode(stored_postcode))
    if order is None or not (email_ok or postcode_ok):
        raise NotFoundError(TrackPageErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE)
    return order


def shipment_lookup(*, merchant: Merchant, tracking_number: str, client: str) -> Shipment:
    """This merchant's newest shipment with the tracking number (status-only view)."""
    number = tracking_number_normalise(tracking_number)
    _throttle(merchant=merchant, client=client, subject=f"tracking:{number}")
    shipment = (
        Shipment.objects.for_merchant(merchant)
        .filter(tracking_number=number)
        .order_by("-created_at")
        .first()
    )
    if shipment is None:
        raise NotFoundError(TrackPageErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE)
    return shipment


def link_issued_allowed(*, order: Order, issued_at: datetime) -> None:
    """Refuse a link signed before the order's links were revoked."""
    revocation = getattr(order, "link_revocation", None)
    link_issued_check(
        revoked_before=revocation.revoked_before if revocation is not None else None,
        issued_at=issued_at,
    )


def link_issued_check(*, revoked_before: datetime | None, issued_at: datetime) -> None:
    """The same rule given the revocation time alone (`selectors.page_head` reads it)."""
    if revoked_before is not None and issued_at < revoked_before:
        raise DomainError(TrackPageErrorCode.LINK_REVOKED, "This link is no longer valid.")


@transaction.atomic
def tracking_links_revoke(*, order: Order, reason: str = "") -> TrackingLinkRevocation:
    """Make every tracking link of the order signed until now stop working.

    The order's page heads kept in Redis are made stale before the revocation is written (if
    Redis cannot be written, nothing is revoked and the error says so) and again once it is
    committed (a head read meanwhile, before the commit, is not kept past it).
    """
    page_heads_forget(merchant_id=order.merchant_id, order_ids=[order.pk])
    # Signing timestamps have one-second resolution: a link signed in this second is revoked too.
    cut = timezone.now().replace(microsecond=0) + timedelta(seconds=1)
    revocation, _ = TrackingLinkRevocation.objects.update_or_create(
        order=order,
        defaults={"merchant_id": order.merchant_id, "revoked_before": cut, "reason": reason},
    )
    _page_heads_forget_on_commit(merchant_id=order.merchant_id, order_id=order.pk)
    return revocation


def page_heads_forget(*, merchant_id: int, order_ids: Sequence[int]) -> None:
    """Make the page heads kept in Redis for every link of these orders stale, so no view uses
    them again (`selectors.page_head_cached`). Nothing without Redis."""
    _page_head_tags_renew(merchant_id=merchant_id, order_ids=order_ids)


def _page_head_tags_renew(*, merchant_id: int, order_ids: Sequence[int]) -> dict[str, str]:
    """{shipment public id: the new tag its link's head is kept under} for these orders'
    shipments (one query); empty without Redis. Renewed before heads are read from the
    database, so a head read before another writer renews the tag again is never used."""
    if shared_cache.shared() is None or not order_ids:
        return {}
    public_ids = list(
        Shipment.objects.filter(merchant_id=merchant_id, order_id__in=list(order_ids)).values_list(
            "public_id", flat=True
        )
    )
    keys = [selectors.head_keys(merchant_id, pid)[1] for pid in public_ids]
    return dict(zip(public_ids, shared_cache.tags_renew(keys), strict=True))


def _page_heads_forget_on_commit(*, merchant_id: int, order_id: int) -> None:
    transaction.on_commit(
        lambda: page_heads_forget(merchant_id=merchant_id, order_ids=[order_id]), robust=True
    )


# --- Engagement ---------------------------------------------------------------------------------


def visitor_id(*, merchant: Merchant, cookie_value: str) -> str:
    """A salted hash of the visitor's random cookie, per merchant: not linkable across stores."""
    return salted_hmac(
        "trackpage.visitor", f"{merchant.pk}:{cookie_value}", algorithm="sha256"
    ).hexdigest()[:32]


@dataclass(frozen=True)
class PageViewCount:
    """One view of an order's page by a visitor (the visitor hash, never the person)."""

    merchant_id: int
    order_id: int
    visitor: str
    via: str

    # The same three commands in Lua, for the script that also reads the page (one command):
    # KEYS are the pending counts, first and last views; ARGV the field, first and last values.
    SCRIPT = (
        "redis.call('HINCRBY', KEYS[1], ARGV[1], 1)\n"
        "redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])\n"
        "redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])"
    )

    def queue(self, pipe: Any, make_key: Callable[[str], str]) -> None:
        """Add this view to the pending counts in the shared Redis (commands on a pipeline)."""
        _lua, keys, args = self.script(make_key)
        pipe.hincrby(keys[0], args[0], 1)
        pipe.hsetnx(keys[1], args[0], args[1])
        pipe.hset(keys[2], args[0], args[2])

    def script(self, make_key: Callable[[str], str]) -> tuple[str, list[str], list[str]]:
        """This view as Lua (`SCRIPT`, its keys, its arguments) for a script reading the page."""
        field = f"{self.merchant_id}:{self.order_id}:{self.visitor}"
        stamp = f"{timezone.now().timestamp():.6f}"
        keys = [make_key(PENDING_VIEWS), make_key(PENDING_FIRST), make_key(PENDING_LAST)]
        return self.SCRIPT, keys, [field, f"{stamp}:{self.via}", stamp]


# Views counted in Redis and not yet written to PageView (see `page_views_flush`).
PENDING_VIEWS = "trackpage:views:pending"
PENDING_FIRST = "trackpage:views:first"
PENDING_LAST = "trackpage:views:last"


def page_view_count(view: PageViewCount) -> None:
    """Count one view of the order's page by the visitor (one row per visitor, a counter).

    With the shared Redis cache the view is added to the pending counts (the page view does it
    in the same round trip as its cache read) and `page_views_flush` writes them in batches;
    otherwise it is one statement: insert the visitor's row or add one to its counter (on
    PostgreSQL with `synchronous_commit` off for its own transaction, set inside the statement:
    a crash may lose the last fraction of a second of counts, never a shopper-visible change).
    """
    found = shared_cache.shared()
    if found is not None:
        backend, client = found
        pipe = client.pipeline(transaction=False)
        view.queue(pipe, backend.make_key)
        pipe.execute()
        return
    table = connection.ops.quote_name(PageView._meta.db_table)
    relaxed = connection.vendor == "postgresql"
    source = (
        "SELECT %s, %s, %s, %s, 1, %s, %s "
        "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS cfg"
        if relaxed
        else "VALUES (%s, %s, %s, %s, 1, %s, %s)"
    )
    sql = (
        f"INSERT INTO {table} (merchant_id, order_id, visitor, via, views, first_viewed_at, "
        f"last_viewed_at) {source} "
        f"ON CONFLICT (order_id, visitor) DO UPDATE SET views = {table}.views + 1, "
        "last_viewed_at = EXCLUDED.last_viewed_at"
    )
    stamp = PageView._meta.get_field("last_viewed_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [view.merchant_id, view.order_id, view.visitor, view.via, stamp, stamp])


def page_views_flush() -> int:
    """Write the views counted in Redis to PageView rows, in batches; returns the rows written.

    The pending counts are taken atomically (read and deleted in one MULTI/EXEC), so two
    flushes never write the same views; if writing fails they are put back.
    """
    found = shared_cache.shared()
    if found is None:
        return 0
    backend, client = found
    keys = [backend.make_key(key) for key in (PENDING_VIEWS, PENDING_FIRST, PENDING_LAST)]
    take = client.pipeline(transaction=True)
    for key in keys:
        take.hgetall(key)
    take.delete(*keys)
    counts, firsts, lasts, _ = take.execute()
    if not counts:
        return 0
    try:
        return _page_views_write(_pending_rows(counts, firsts, lasts))
    except Exception:
        back = client.pipeline(transaction=True)
        for field, views in counts.items():
            back.hincrby(keys[0], field, int(views))
            if field in firsts:
                back.hsetnx(keys[1], field, firsts[field])
            if field in lasts:
                back.hset(keys[2], field, lasts[field])
        back.execute()
        raise


def _pending_rows(
    counts: dict[bytes, bytes], firsts: dict[bytes, bytes], lasts: dict[bytes, bytes]
) -> list[tuple[Any, ...]]:
    rows = []
    for field, views in counts.items():
        merchant_id, order_id, visitor = field.decode().split(":", 2)
        first_stamp, _, via = firsts.get(field, b"").decode().partition(":")
        last_stamp = lasts.get(field, b"").decode() or first_stamp
        first_stamp = first_stamp or last_stamp or f"{timezone.now().timestamp()}"
        rows.append(
            (
                int(merchant_id),
                int(order_id),
                visitor,
                via or "link",
                int(views),
                datetime.fromtimestamp(float(first_stamp), tz=UTC),
                datetime.fromtimestamp(float(last_stamp or first_stamp), tz=UTC),
            )
        )
    return rows


VIEWS_BATCH = 500


def _page_views_write(rows: list[tuple[Any, ...]]) -> int:
    """Upsert (merchant, order, visitor, via, views, first, last) rows: insert the visitor's row
    or add the views to its counter. Rows of orders deleted meanwhile are dropped.

    On PostgreSQL a flush of its own does not wait for the WAL flush (`synchronous_commit` off
    for its transaction only): counters may lose their last fraction of a second in a crash,
    never a shopper-visible change.
    """
    table = connection.ops.quote_name(PageView._meta.db_table)
    postgres = connection.vendor == "postgresql"
    # Inside a caller's transaction (conversion attribution) the setting would relax its commit
    # too: only a flush of its own runs with synchronous_commit off.
    relax = postgres and not connection.in_atomic_block
    least, greatest = ("LEAST", "GREATEST") if postgres else ("MIN", "MAX")
    field = PageView._meta.get_field("last_viewed_at")
    existing = set(
        Order.objects.filter(pk__in={row[1] for row in rows}).values_list("pk", flat=True)
    )
    rows = [row for row in rows if row[1] in existing]
    for start in range(0, len(rows), VIEWS_BATCH):
        part = rows[start : start + VIEWS_BATCH]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(part))
        params: list[Any] = []
        for merchant_id, order_id, visitor, via, views, first, last in part:
            first_value = field.get_db_prep_value(first, connection)
            last_value = field.get_db_prep_value(last or first, connection)
            params += [merchant_id, order_id, visitor, via, views, first_value, last_value]
        relaxed = "SELECT set_config('synchronous_commit', 'off', true)" if relax else ""
        # Only the table name and fixed SQL words are formatted in.
        sql = (
            f"INSERT INTO {table} (merchant_id, order_id, visitor, via, views, first_viewed_at, "  # noqa: S608
            f"last_viewed_at) VALUES {values} "
            f"ON CONFLICT (order_id, visitor) DO UPDATE SET views = {table}.views + "
            f"EXCLUDED.views, first_viewed_at = {least}({table}.first_viewed_at, "
            f"EXCLUDED.first_viewed_at), last_viewed_at = {greatest}({table}.last_viewed_at, "
            "EXCLUDED.last_viewed_at)"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            if relaxed:
                cursor.execute(relaxed)
            cursor.execute(sql, params)
    return len(rows)


def link_click_record(*, merchant: Merchant, target: GoTarget, visitor: str) -> LinkClick | None:
    """Record a click through the redirect; a link of an order that no longer exists is not."""
    if target.kind not in LinkKind.values:
        raise DomainError(TrackPageErrorCode.REDIRECT_REFUSED, "Unknown kind of link.")
    order_id = (
        Order.objects.for_merchant(merchant)
        .filter(number=target.order_number)
        .values_list("pk", flat=True)
        .first()
    )
    if order_id is None:
        return None
    return LinkClick.objects.create(
        merchant=merchant,
        order_id=order_id,
        visitor=visitor,
        kind=target.kind,
        url=target.url[:1000],
        clicked_at=timezone.now(),
    )


# --- Rating -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingInput:
    score: int
    comment: str = ""


@transaction.atomic
def delivery_rating_submit(*, shipment: Shipment, rating: RatingInput) -> DeliveryRating:
    """Record (or change) the shopper's rating of a delivered shipment."""
    if shipment.status != ShipmentStatus.DELIVERED:
        raise DomainError(
            TrackPageErrorCode.RATING_NOT_DELIVERED,
            "You can rate the delivery once it has arrived.",
            field="score",
        )
    if not 1 <= rating.score <= 5:
        raise DomainError(
            TrackPageErrorCode.RATING_INVALID, "Choose from 1 to 5 stars.", field="score"
        )
    comment = rating.comment.strip()
    if len(comment) > 1000:
        raise DomainError(
            TrackPageErrorCode.RATING_INVALID,
            "Please keep the comment under 1000 characters.",
            field="comment",
        )
    # The page shows the rating from the shopper's next view: the heads are made stale before
    # and after it is written (see `tracking_links_revoke`).
    page_heads_forget(merchant_id=shipment.merchant_id, order_ids=[shipment.order_id])
    saved, created = DeliveryRating.objects.update_or_create(
        shipment=shipment,
        defaults={"merchant_id": shipment.merchant_id, "score": rating.score, "comment": comment},
    )
    _page_heads_forget_on_commit(merchant_id=shipment.merchant_id, order_id=shipment.order_id)
    outbox.publish(
        merchant=shipment.merchant,
        type="delivery_rating.submitted",
        subject=f"shipment:{shipment.pk}",
        data={
            "shipment_id": shipment.pk,
            "order_id": shipment.order_id,
            "score": saved.score,
            "has_comment": bool(saved.comment),
            "changed": not created,
        },
    )
    return saved


# --- Conversions --------------------------------------------------------------------------------


@transaction.atomic
def conversion_attribute(*, order_id: int) -> Conversion | None:
    """Attribute a new order to the same customer's earlier tracking page, within the window.

    A click into the store from an earlier order's page wins over a mere view; the latest touch
    before the order was placed is credited. Attributing twice has no second effect.
    """
    # Views still counted in Redis are touches too. (Taken from Redis here: if this transaction
    # rolls back, those counts are lost; the attribution itself is retried by the outbox.)
    page_views_flush()
    order = Order.objects.filter(pk=order_id).first()
    if order is None or Conversion.objects.filter(order=order).exists():
        return None
    since = order.placed_at - settings.TRACKPAGE_ATTRIBUTION_WINDOW
    earlier_orders = Order.objects.filter(
        merchant_id=order.merchant_id, customer_id=order.customer_id
    ).exclude(pk=order.pk)
    click = (
        LinkClick.objects.filter(
            order__in=earlier_orders,
            kind__in=LinkKind.store_kinds(),
            clicked_at__gte=since,
            clicked_at__lte=order.placed_at,
        )
        .order_by("-clicked_at")
        .first()
    )
    if click is not None:
        touch, source_order_id, touched_at = ConversionTouch.CLICK, click.order_id, click.clicked_at
    else:
        view = (
            PageView.objects.filter(
                order__in=earlier_orders,
                last_viewed_at__gte=since,
                first_viewed_at__lte=order.placed_at,
            )
            .order_by("-last_viewed_at")
            .first()
        )
        if view is None:
            return None
        touch, source_order_id, touched_at = (
            ConversionTouch.VIEW,
            view.order_id,
            view.last_viewed_at,
        )
    conversion, created = Conversion.objects.get_or_create(
        order=order,
        defaults={
            "merchant_id": order.merchant_id,
            "source_order_id": source_order_id,
            "touch": touch,
            "click": click,
            "touched_at": min(touched_at, order.placed_at),
        },
    )
    if created:
        outbox.publish(
            merchant=order.merchant,
            type="page_conversion.attributed",
            subject=f"order:{order.pk}",
            data={
                "order_id": order.pk,
                "source_order_id": source_order_id,
                "touch": str(touch),
                "total": str(order.total),
                "currency": order.currency,
            },
        )
    return conversion


# --- Pages rendered ahead of their first view ---------------------------------------------------


def render_ahead_languages(*, merchant: Merchant, order: Order) -> list[str]:
    """The languages a shopper of the order most likely reads its page in: the order's (or the
    customer's) when the store offers it, and the store's default."""
    offered = merchant.offered_languages
    wanted = [order.language, order.customer.language if order.customer_id else ""]
    first = next((code for code in wanted if code in offered), merchant.default_language)
    return list(dict.fromkeys([first, merchant.default_language]))


def pages_render_ahead(*, merchant_id: int, order_ids: Sequence[int], changed: bool = False) -> int:
    """Render the tracking pages of these orders into the page cache, so a shopper's first view
    is a cache hit; a page already stored under its current key is left. Returns pages rendered.
    With `changed` (the orders' events, whose notifications bring shoppers within minutes) the
    heads kept for their links before are made stale first, and the heads read here are kept
    for TRACKPAGE_HEAD_TTL; the backfill and the hourly task (no change, no shopper expected
    within the minute) keep none.

    Safe at any time and any number of times: a page is stored under a key of everything it
    shows (see `rendering.page_key`), so a later change is a new key, never a stale page, and a
    revoked link is refused before any stored page is read.
    """
    head_tags = (
        _page_head_tags_renew(merchant_id=merchant_id, order_ids=order_ids) if changed else {}
    )
    merchant = Merchant.objects.filter(pk=merchant_id, is_active=True).first()
    if merchant is None or not order_ids:
        return 0
    pages = selectors.tracking_pages_for_orders(merchant=merchant, order_ids=order_ids)
    heads = {id(page): page.head() for page in pages}
    # The heads just read are kept for the views, under the tags read (or renewed) before.
    kept = []
    for page in pages:
        for shipment in page.shipments:
            if shipment.public_id in head_tags:
                key = selectors.head_keys(merchant_id, shipment.public_id)[0]
                kept.append((key, head_tags[shipment.public_id], heads[id(page)]))
    shared_cache.tagged_set_many(kept, settings.TRACKPAGE_HEAD_TTL)
    wanted = [
        (page, language)
        for page in pages
        if page.order is not None
        for language in render_ahead_languages(merchant=merchant, order=page.order)
    ]
    stored, blocks = rendering.pages_stored_many(
        merchant=merchant, wanted=[(heads[id(page)], language) for page, language in wanted]
    )
    due = [
        (page, language, blocks[language])
        for page, language in wanted
        if (heads[id(page)].order_id, language) not in stored
    ]
    selectors.timelines_load(list({id(page): page for page, _, _ in due}.values()))
    rendering.pages_store_many(due)
    return len(due)


def render_ahead_batches(*, since: datetime, batch_size: int = 200) -> list[tuple[int, list[int]]]:
    """(merchant id, up to `batch_size` order ids) for every order changed (or placed) since
    `since`: the units of work of the hourly task and of the backfill, each small enough to
    render well inside one task's time limit."""
    size = max(1, batch_size)
    return [
        (merchant_id, ids[start : start + size])
        for merchant_id, ids in render_ahead_order_ids(since=since)
        for start in range(0, len(ids), size)
    ]


def render_ahead_order_ids(*, since: datetime) -> Iterator[tuple[int, list[int]]]:
    """(merchant id, order ids) of the orders whose shipments changed since `since`, or that
    were placed since then, in batches per merchant (for the backfill command)."""
    changed = (
        Shipment.objects.filter(updated_at__gte=since, merchant__is_active=True)
        .values_list("merchant_id", "order_id")
        .distinct()
    )
    placed = Order.objects.filter(placed_at__gte=since, merchant__is_active=True).values_list(
        "merchant_id", "pk"
    )
    by_merchant: dict[int, set[int]] = {}
    for merchant_id, order_id in [*changed, *placed]:
        by_merchant.setdefault(merchant_id, set()).add(order_id)
    for merchant_id, ids in sorted(by_merchant.items()):
        yield merchant_id, sorted(ids)
