"""Purchase statistics (bought together, units sold) stay equal to what the order lines say:
kept by the `order.created`/`order.updated` handler, caught up by the refresh for orders written
without an event and for deleted orders, once per order whatever runs twice or at once."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from io import StringIO
from itertools import permutations

import pytest
from django.core.management import call_command
from django.db import connection

from commerce import stats
from commerce.models import CoPurchase, Order, OrderLine, ProductSales, PurchaseCounted
from commerce.services import OrderLineInput, order_upsert
from postpurchase import outbox
from postpurchase.models import DomainEvent, HandlerRun
from tests.commerce.test_order_upsert import order_input
from tests.factories import OrderFactory, OrderLineFactory, ProductFactory

pytestmark = pytest.mark.django_db


def expected(merchant) -> tuple[dict[tuple[int, int], int], dict[int, int]]:  # type: ignore[no-untyped-def]
    """The statistics computed from the merchant's order lines, in Python."""
    products: dict[int, set[int]] = {}
    sales: Counter[int] = Counter()
    for order_id, product_id, quantity in OrderLine.objects.filter(
        merchant=merchant, product__isnull=False
    ).values_list("order_id", "product_id", "quantity"):
        products.setdefault(order_id, set()).add(product_id)
        sales[product_id] += quantity
    pairs: Counter[tuple[int, int]] = Counter()
    for held in products.values():
        pairs.update(permutations(held, 2))
    return dict(pairs), dict(sales)


def stored(merchant) -> tuple[dict[tuple[int, int], int], dict[int, int]]:  # type: ignore[no-untyped-def]
    pairs = {
        (row.product_id, row.other_id): row.orders
        for row in CoPurchase.objects.filter(merchant=merchant)
    }
    sales = {row.product_id: row.quantity for row in ProductSales.objects.filter(merchant=merchant)}
    return pairs, sales


def line(external_id: str, sku: str, quantity: int = 1) -> OrderLineInput:
    return OrderLineInput(
        external_id=external_id, sku=sku, title=sku, quantity=quantity, unit_price=Decimal("5")
    )


def upsert(merchant, capture, external_id: str, *lines: OrderLineInput) -> Order:  # type: ignore[no-untyped-def]
    """An order through the store's service, its events dispatched as in production."""
    payload = order_input(external_id=external_id, number=external_id, lines=list(lines))
    with capture(execute=True):
        return order_upsert(merchant=merchant, payload=payload).order


def test_order_events_keep_the_statistics(merchant_a, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    upsert(merchant_a, capture, "o1", line("l1", "SOCK", 2), line("l2", "CAP"))
    upsert(merchant_a, capture, "o2", line("l1", "SOCK"), line("l2", "SCARF"))
    sock, cap, scarf = (merchant_a.product_set.get(sku=s).pk for s in ("SOCK", "CAP", "SCARF"))

    assert stored(merchant_a) == (
        {(sock, cap): 1, (cap, sock): 1, (sock, scarf): 1, (scarf, sock): 1},
        {sock: 3, cap: 1, scarf: 1},
    )

    # The second order changes: the scarf goes, a cap and more socks come.
    upsert(merchant_a, capture, "o2", line("l1", "SOCK", 4), line("l3", "CAP"))
    assert stored(merchant_a) == ({(sock, cap): 2, (cap, sock): 2}, {sock: 6, cap: 2})

    # A line removed: the pair goes with it.
    upsert(merchant_a, capture, "o1", line("l1", "SOCK", 2))
    assert stored(merchant_a) == ({(sock, cap): 1, (cap, sock): 1}, {sock: 6, cap: 1})
    assert stored(merchant_a) == expected(merchant_a)
    assert stats.orders_out_of_date(merchant=merchant_a) == []


def test_two_lines_of_one_product_are_one_order_of_it(
    merchant_a, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    upsert(
        merchant_a, capture, "o1", line("l1", "SOCK", 1), line("l2", "SOCK", 2), line("l3", "CAP")
    )
    sock, cap = (merchant_a.product_set.get(sku=s).pk for s in ("SOCK", "CAP"))

    assert stored(merchant_a) == ({(sock, cap): 1, (cap, sock): 1}, {sock: 3, cap: 1})


def test_a_sync_run_again_or_out_of_order_changes_nothing(merchant_a):
    order = OrderFactory(merchant=merchant_a)
    a, b = ProductFactory(merchant=merchant_a), ProductFactory(merchant=merchant_a)
    OrderLineFactory(order=order, product=a)
    OrderLineFactory(order=order, product=b)

    assert stats.purchase_stats_sync(order_ids=[order.pk]) == 1
    assert stats.purchase_stats_sync(order_ids=[order.pk, order.pk]) == 0
    assert (
        stored(merchant_a)
        == expected(merchant_a)
        == ({(a.pk, b.pk): 1, (b.pk, a.pk): 1}, {a.pk: 2, b.pk: 2})
    )


def test_the_refresh_catches_orders_written_without_events_and_deleted_orders(
    merchant_a, merchant_b
):
    shared = ProductFactory(merchant=merchant_a)
    orders = []
    for i in range(5):
        order = OrderFactory(merchant=merchant_a)
        OrderLineFactory(order=order, product=shared, quantity=i + 1)
        OrderLineFactory(order=order, product=ProductFactory(merchant=merchant_a))
        orders.append(order)
    other = OrderFactory(merchant=merchant_b)
    OrderLineFactory(order=other)
    OrderLineFactory(order=other, product=None, sku="GIFT", title="Gift wrap")  # not counted

    assert stats.orders_out_of_date(merchant=merchant_a) == sorted(o.pk for o in orders)
    assert stats.purchase_stats_refresh(merchants=[merchant_a]) == 5
    assert stored(merchant_a) == expected(merchant_a)
    assert stored(merchant_b) == ({}, {})  # another merchant's orders are its own business

    # Written behind the service's back: a line's quantity, and a whole order deleted.
    OrderLine.objects.filter(order=orders[0], product=shared).update(quantity=10)
    deleted = orders[1].pk
    orders[1].delete()
    assert stats.orders_out_of_date(merchant=merchant_a) == sorted([orders[0].pk, deleted])

    assert stats.purchase_stats_refresh() == 3  # merchant_b's order too
    assert stored(merchant_a) == expected(merchant_a)
    assert stored(merchant_b) == expected(merchant_b)
    assert not PurchaseCounted.objects.filter(order_id=deleted).exists()
    assert stats.orders_out_of_date(merchant=merchant_a) == []


def test_the_command_builds_then_finds_nothing_left(merchant_a):
    for _ in range(3):
        order = OrderFactory(merchant=merchant_a)
        OrderLineFactory(order=order)
        OrderLineFactory(order=order)
    out, err = StringIO(), StringIO()

    call_command("commerce_purchase_stats", "--batch-size", "2", stdout=out, stderr=err)
    assert "3 orders synced" in out.getvalue()
    assert "3/3" in err.getvalue()  # the progress bar
    assert stored(merchant_a) == expected(merchant_a)

    call_command("commerce_purchase_stats", "--no-progress", stdout=(again := StringIO()))
    assert "0 orders synced" in again.getvalue()


def test_a_batch_of_events_is_synced_at_once(merchant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # events written, not dispatched
        for i in range(3):
            payload = order_input(
                external_id=f"o{i}", number=f"o{i}", lines=[line("l1", "SOCK"), line("l2", f"P{i}")]
            )
            order_upsert(merchant=merchant_a, payload=payload)
    ids = list(DomainEvent.objects.filter(type="order.created").values_list("pk", flat=True))

    assert outbox.events_dispatch_many(event_ids=[str(pk) for pk in ids]) == []
    assert stored(merchant_a) == expected(merchant_a)
    assert (
        HandlerRun.objects.filter(handler="commerce.purchase_stats_sync", attempts=1).count() == 3
    )


def test_a_deleted_product_takes_its_rows_with_it(merchant_a):
    order = OrderFactory(merchant=merchant_a)
    a, b = ProductFactory(merchant=merchant_a), ProductFactory(merchant=merchant_a)
    OrderLineFactory(order=order, product=a)
    OrderLineFactory(order=order, product=b)
    stats.purchase_stats_sync(order_ids=[order.pk])

    order.delete()  # its lines go; the product may go once nothing holds it
    b.delete()
    assert stats.purchase_stats_refresh(merchants=[merchant_a]) == 1
    assert stored(merchant_a) == ({}, {})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_syncs_of_one_order_at_once_count_it_once(merchant_a):
    product = ProductFactory(merchant=merchant_a)
    orders = []
    for _ in range(2):
        order = OrderFactory(merchant=merchant_a)
        OrderLineFactory(order=order, product=product)
        OrderLineFactory(order=order, product=ProductFactory(merchant=merchant_a))
        orders.append(order)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(ids: list[int]) -> None:
        try:
            barrier.wait(timeout=10)
            stats.purchase_stats_sync(order_ids=ids)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    # Overlapping batches in opposite orders: the ids are locked in order, so no deadlock.
    ids = [o.pk for o in orders]
    threads = [threading.Thread(target=run, args=(list(x),)) for x in (ids, ids[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert stored(merchant_a) == expected(merchant_a)
    assert ProductSales.objects.get(product=product).quantity == 4  # two orders of 2, once each


def test_an_unchanged_order_writes_nothing(
    merchant_a, django_capture_on_commit_callbacks, django_assert_num_queries
):
    order = upsert(
        merchant_a, django_capture_on_commit_callbacks, "o1", line("l1", "SOCK"), line("l2", "CAP")
    )

    # Lock, what it contributed, its lines (and the savepoint around them): nothing written.
    with django_assert_num_queries(5):
        assert stats.purchase_stats_sync(order_ids=[order.pk]) == 0
