"""Recommendations read from the precomputed purchase statistics agree with the same ranking
computed live from the order lines, on randomised stores, before and after the stores change.

The live reference below is the query recommendations ran before the statistics existed, with
one difference, the documented ranking: a candidate's bought-together score is the number of
(order, product of this order) pairs holding it — summed over the order's products — where the
old query counted orders once whichever of the order's products they held. For an order of one
product the two are the same, which `test_single_product_orders_rank_as_before` checks against
the old query verbatim.

When can they disagree? Only while the statistics lag the lines: between an order's commit and
its `commerce.purchase_stats_sync` run (the outbox dispatch, seconds; longer if the handler fails
and is retried), and for lines written without an event (the console's order form, bulk loads)
or deleted orders until the next `commerce.purchase_stats_refresh` (hourly) — `stale` below
shows one and that the refresh ends it. Stock, page URL, category and what the customer bought
are read live, so they never lag. Recommendations are also cached per order for 15 minutes and
inside stored pages, as before.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from commerce.models import Order, OrderLine, Product
from commerce.services import (
    AddressInput,
    CustomerInput,
    OrderInput,
    OrderLineInput,
    order_upsert,
)
from commerce.stats import orders_out_of_date, purchase_stats_refresh
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory
from trackpage.selectors import _recommended

pytestmark = pytest.mark.django_db

LIMIT = 4
COLUMNS = "p.id, p.title, p.url, p.image_url, p.price, p.currency"


def _live(order: Order, *, distinct_orders: bool = False) -> list[tuple[Any, ...]]:
    """(title, url, price) of the recommendations computed from all the merchant's order lines;
    `distinct_orders` is the old query's bought-together score (orders, not order/product pairs)."""
    q = connection.ops.quote_name
    line, product = q(OrderLine._meta.db_table), q(Product._meta.db_table)
    orders = q(Order._meta.db_table)
    lines = f"FROM {line} l JOIN {product} p ON p.id = l.product_id"
    where = f"""
        WHERE l.merchant_id = %(merchant)s AND p.in_stock AND p.url <> ''
          AND l.product_id NOT IN (
            SELECT bl.product_id FROM {line} bl JOIN {orders} bo ON bo.id = bl.order_id
            WHERE bl.merchant_id = %(merchant)s AND bo.customer_id = %(customer)s
              AND bl.product_id IS NOT NULL
          )
    """  # noqa: S608
    candidate = f"{lines} {where}"
    basket = f"SELECT product_id FROM {line} WHERE order_id = %(order)s AND product_id IS NOT NULL"  # noqa: S608
    params: dict[str, Any] = {
        "order": order.pk,
        "merchant": order.merchant_id,
        "customer": order.customer_id,
        "limit": LIMIT,
    }
    if distinct_orders:  # the old query, verbatim
        together_sql = f"""
            SELECT {COLUMNS}, COUNT(DISTINCT l.order_id) AS score {candidate}
              AND l.order_id IN (SELECT order_id FROM {line} WHERE product_id IN ({basket}))
            GROUP BY {COLUMNS} ORDER BY score DESC, p.id LIMIT %(limit)s
        """  # noqa: S608
    else:  # one per (order, product of the basket) holding the candidate
        together_sql = f"""
            SELECT {COLUMNS}, COUNT(DISTINCT l.order_id || ':' || b.product_id) AS score {lines}
            JOIN (
                SELECT DISTINCT order_id, product_id FROM {line} WHERE product_id IN ({basket})
            ) b ON b.order_id = l.order_id
            {where}
            GROUP BY {COLUMNS} ORDER BY score DESC, p.id LIMIT %(limit)s
        """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(together_sql, params)
        rows = [row[:6] for row in cursor.fetchall()]
        if len(rows) < LIMIT:
            chosen = [row[0] for row in rows] or [0]
            params |= {"left": LIMIT - len(rows)}
            params |= {f"c{i}": pk for i, pk in enumerate(chosen)}
            placeholders = ", ".join(f"%(c{i})s" for i in range(len(chosen)))
            category_sql = f"""
                SELECT {COLUMNS}, SUM(l.quantity) AS score {candidate}
                  AND p.category <> '' AND p.id NOT IN ({placeholders})
                  AND p.category IN (
                    SELECT bp.category FROM {product} bp WHERE bp.id IN ({basket})
                  )
                GROUP BY {COLUMNS} ORDER BY score DESC, p.id LIMIT %(left)s
            """  # noqa: S608
            cursor.execute(category_sql, params)
            rows += [row[:6] for row in cursor.fetchall()]
    return [
        (title, url, Decimal(str(price)).quantize(Decimal("0.01")))
        for _, title, url, _, price, _ in rows
    ]


def _precomputed(order: Order) -> list[tuple[Any, ...]]:
    return [(r.title, r.url, Decimal(r.price)) for r in _recommended(order=order, limit=LIMIT)]


def _store(merchant, rng: random.Random) -> list[Order]:  # type: ignore[no-untyped-def]
    """A random store: products in a few categories (some sold out, some without a page), a few
    customers with several orders each, lines of 1 to 4 products (repeats and product-less lines
    included), written with factories (no events: the statistics are built by the refresh)."""
    categories = ["Socks", "Hats", "Mugs", ""]
    products = [
        ProductFactory(
            merchant=merchant,
            title=f"P{i}",
            category=rng.choice(categories),
            in_stock=rng.random() > 0.15,
            url="" if rng.random() < 0.1 else f"https://www.aurora.example/p/{i}",
            price=Decimal(rng.randint(1, 90)),
        )
        for i in range(rng.randint(8, 18))
    ]
    customers = [CustomerFactory(merchant=merchant) for _ in range(rng.randint(3, 8))]
    orders = []
    for _ in range(rng.randint(15, 40)):
        order = OrderFactory(merchant=merchant, customer=rng.choice(customers))
        for product in rng.choices(products, k=rng.randint(1, 4)):
            OrderLineFactory(order=order, product=product, quantity=rng.randint(1, 3))
        if rng.random() < 0.1:
            OrderLineFactory(order=order, product=None, sku="GIFT", title="Gift wrap")
        orders.append(order)
    return orders


def _agree(orders: list[Order]) -> None:
    for order in orders:
        assert _precomputed(order) == _live(order), f"order {order.pk}"


@pytest.mark.parametrize("seed", range(6))
def test_precomputed_recommendations_agree_with_the_order_lines(seed, merchant_a, merchant_b):
    rng = random.Random(seed)
    orders = _store(merchant_a, rng)
    _store(merchant_b, rng)  # a look-alike store: never mixed in
    purchase_stats_refresh()

    _agree(orders)

    # The stores change: stock, pages and categories (read live), more orders, lines edited
    # and orders deleted behind the service's back; the refresh catches the lines up.
    products = list(Product.objects.filter(merchant=merchant_a))
    for product in rng.sample(products, k=len(products) // 3):
        product.in_stock = not product.in_stock
        product.category = rng.choice(["Socks", "Hats", ""])
        product.save()
    orders += _store(merchant_a, rng)
    for order in rng.sample(orders, k=5):
        line = order.lines.first()
        if line is not None:
            line.quantity += 2
            line.product = rng.choice(products)
            line.save()
    for order in rng.sample(orders, k=3):
        orders.remove(order)
        order.delete()
    purchase_stats_refresh()

    _agree(orders)


def _payload(external_id: str, skus: list[str], email: str) -> OrderInput:
    return OrderInput(
        external_id=external_id,
        number=external_id,
        placed_at=Order._meta.get_field("placed_at").to_python("2026-11-20T15:30:00+00:00"),
        currency="USD",
        customer=CustomerInput(external_id=email, email=email),
        shipping_address=AddressInput(country="us", city="New York", postcode="10001"),
        lines=[
            OrderLineInput(
                external_id=f"l{i}",
                sku=sku,
                title=sku,
                quantity=1 + i % 2,
                unit_price=Decimal("5"),
                category="Socks" if i % 2 else "Hats",
                product_url=f"https://www.aurora.example/p/{sku}",
            )
            for i, sku in enumerate(skus)
        ],
    )


def test_orders_through_the_service_need_no_refresh(merchant_a, django_capture_on_commit_callbacks):
    """The handler keeps the statistics as orders arrive and change (events dispatched)."""
    rng = random.Random(7)
    skus = [f"SKU{i}" for i in range(10)]
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(25):
            basket = rng.sample(skus, k=rng.randint(1, 4))
            order_upsert(
                merchant=merchant_a, payload=_payload(f"o{i}", basket, f"c{i % 6}@x.example")
            )
        for i in rng.sample(range(25), k=6):  # orders edited by the store: lines replaced
            basket = rng.sample(skus, k=rng.randint(1, 4))
            order_upsert(
                merchant=merchant_a, payload=_payload(f"o{i}", basket, f"c{i % 6}@x.example")
            )

    assert orders_out_of_date(merchant=merchant_a) == []
    _agree(list(Order.objects.filter(merchant=merchant_a)))


def test_stale_until_the_refresh_when_lines_change_without_an_event(merchant_a):
    hat, sock, scarf = (
        ProductFactory(merchant=merchant_a, title=t, url=f"https://www.aurora.example/p/{t}")
        for t in ("Hat", "Sock", "Scarf")
    )
    for _ in range(2):
        order = OrderFactory(merchant=merchant_a)
        OrderLineFactory(order=order, product=hat)
        OrderLineFactory(order=order, product=sock)
    order = OrderFactory(merchant=merchant_a)
    OrderLineFactory(order=order, product=hat)
    purchase_stats_refresh()
    assert [r[0] for r in _precomputed(order)] == ["Sock"]  # the scarf has not sold yet

    for _ in range(3):  # written without events: scarves now go with hats
        other = OrderFactory(merchant=merchant_a)
        OrderLineFactory(order=other, product=hat)
        OrderLineFactory(order=other, product=scarf)
    stale = _precomputed(order)
    assert [r[0] for r in _live(order)] == ["Scarf", "Sock"]
    assert [r[0] for r in stale] == ["Sock"]  # what the statistics knew

    purchase_stats_refresh()
    assert _precomputed(order) == _live(order)


def test_single_product_orders_rank_as_before(merchant_a):
    rng = random.Random(11)
    orders = _store(merchant_a, rng)
    purchase_stats_refresh()
    single = [o for o in orders if len({line.product_id for line in o.lines.all()} - {None}) == 1]

    assert single
    for order in single:
        assert _precomputed(order) == _live(order, distinct_orders=True), f"order {order.pk}"
