"""Purchase statistics: the writes that keep `CoPurchase` and `ProductSales` equal to what the
merchant's order lines say (the bought-together and best-seller figures recommendations rank by).

Every write goes through `purchase_stats_sync(order_ids)`, which brings those orders' share of the
statistics up to their current lines: it locks the orders, compares their lines with what they
contributed before (`PurchaseCounted`), and adds the difference with set-based upserts. It is
idempotent and commutative, so it may run any number of times, in any order, for any event:

* the `commerce.purchase_stats_sync` outbox handler runs it on `order.created` and
  `order.updated` (lines added, changed or removed), one order or a batch of them;
* `purchase_stats_refresh` (the hourly beat task `commerce.purchase_stats_refresh`, and
  `manage.py commerce_purchase_stats` for the initial build, with a progress bar) finds, per
  merchant, every order whose lines differ from what it contributed — orders written without an
  event (the console's order form, bulk loads), deleted orders — and syncs them in batches.

Concurrency: the orders are locked (`FOR NO KEY UPDATE`, in id order) before their lines are
read, so two syncs of one order never both add it; a deleted order's rows are taken with
`DELETE … RETURNING`, which only one of two concurrent syncs gets. Counters are changed with
`INSERT … ON CONFLICT DO UPDATE SET n = n + delta` in key order (no deadlock between syncs), and
rows that fall to zero are deleted in the same transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import permutations
from typing import Any

from django.db import connection, transaction

from commerce.models import CoPurchase, Order, OrderLine, ProductSales, PurchaseCounted
from postpurchase.models import Merchant

logger = logging.getLogger(__name__)

SYNC_BATCH = 500  # orders per transaction of a refresh
_UPSERT_ROWS = 500

# (merchant id, product id) -> quantity, per order
Contribution = dict[tuple[int, int], int]


def _q(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _in(values: Sequence[int]) -> str:
    return ", ".join(["%s"] * len(values))


def _contributions(sql: str, order_ids: Sequence[int]) -> dict[int, Contribution]:
    """(order, merchant, product, quantity) rows, per order."""
    found: dict[int, Contribution] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, list(order_ids))
        for order_id, merchant_id, product_id, quantity in cursor.fetchall():
            found.setdefault(order_id, {})[(merchant_id, product_id)] = int(quantity)
    return found


def _current_lines(order_ids: Sequence[int]) -> dict[int, Contribution]:
    """What the orders' lines say now: units per product (lines without a product count not)."""
    if not order_ids:
        return {}
    sql = (
        f"SELECT order_id, merchant_id, product_id, SUM(quantity) FROM {_q(OrderLine)} "  # noqa: S608
        f"WHERE order_id IN ({_in(order_ids)}) AND product_id IS NOT NULL "
        "GROUP BY order_id, merchant_id, product_id"
    )
    return _contributions(sql, order_ids)


def _counted(order_ids: Sequence[int], *, take: bool) -> dict[int, Contribution]:
    """What the orders contributed so far; with `take`, the rows are deleted as they are read."""
    if not order_ids:
        return {}
    columns = "order_id, merchant_id, product_id, quantity"
    where = f"WHERE order_id IN ({_in(order_ids)})"
    table = _q(PurchaseCounted)
    if take:
        sql = f"DELETE FROM {table} {where} RETURNING {columns}"  # noqa: S608
    else:
        sql = f"SELECT {columns} FROM {table} {where}"  # noqa: S608
    return _contributions(sql, order_ids)


def _pairs(contribution: Contribution) -> set[tuple[int, int, int]]:
    """(merchant, product, other) for every ordered pair of distinct products of one order."""
    return {(m, a, b) for (m, a), (_, b) in permutations(contribution, 2)}


def purchase_stats_sync(*, order_ids: Iterable[int]) -> int:
    """Bring these orders' share of the statistics up to their current lines (an order that no
    longer exists takes its share out). Returns how many orders changed anything."""
    ids = sorted(set(order_ids))
    if not ids:
        return 0
    with transaction.atomic():
        live = list(
            Order.objects.filter(pk__in=ids)
            .order_by("pk")
            .select_for_update(no_key=True)
            .values_list("pk", flat=True)
        )
        gone = sorted(set(ids) - set(live))
        before = _counted(live, take=False) | _counted(gone, take=True)
        after = _current_lines(live)
        changed = [pk for pk in ids if before.get(pk, {}) != after.get(pk, {})]
        if not changed:
            return 0
        pairs: Counter[tuple[int, int, int]] = Counter()
        sales: Counter[tuple[int, int]] = Counter()
        for pk in changed:
            old, new = before.get(pk, {}), after.get(pk, {})
            pairs.update(_pairs(new))
            pairs.subtract(_pairs(old))
            sales.update(new)
            sales.subtract(old)
        rewritten = [pk for pk in changed if pk in live]
        if rewritten:
            PurchaseCounted.objects.filter(order_id__in=rewritten).delete()
            PurchaseCounted.objects.bulk_create(
                PurchaseCounted(order_id=pk, merchant_id=m, product_id=p, quantity=n)
                for pk in rewritten
                for (m, p), n in after.get(pk, {}).items()
            )
        _add(
            CoPurchase,
            ("merchant_id", "product_id", "other_id"),
            "orders",
            {key: n for key, n in pairs.items() if n},
        )
        _add(
            ProductSales,
            ("merchant_id", "product_id"),
            "quantity",
            {k: n for k, n in sales.items() if n},
        )
    return len(changed)


def _add(
    model: Any, keys: tuple[str, ...], counter: str, deltas: dict[tuple[int, ...], int]
) -> None:
    """counter += delta for each key (a missing row starts at 0), in key order; then rows at
    zero or below go. The conflict target is the key without the merchant (the primary key)."""
    if not deltas:
        return
    table = _q(model)
    columns = [*keys, counter]
    conflict = ", ".join(keys[1:])
    rows = sorted(deltas.items(), key=lambda item: item[0][1:])
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _UPSERT_ROWS):
            part = rows[start : start + _UPSERT_ROWS]
            params: list[Any] = [value for key, delta in part for value in (*key, delta)]
            # Only table and column names from the models are formatted in.
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                f"VALUES {', '.join([placeholders] * len(part))} "
                f"ON CONFLICT ({conflict}) DO UPDATE "
                f"SET {counter} = {table}.{counter} + EXCLUDED.{counter}",
                params,
            )
        falling = sorted({key[1] for key, delta in rows if delta < 0})
        for start in range(0, len(falling), _UPSERT_ROWS):
            ids = falling[start : start + _UPSERT_ROWS]
            cursor.execute(
                f"DELETE FROM {table} WHERE {keys[1]} IN ({_in(ids)}) AND {counter} <= 0",  # noqa: S608
                ids,
            )


def orders_out_of_date(*, merchant: Merchant) -> list[int]:
    """Orders of the merchant whose lines differ from what they contributed to the statistics,
    and deleted orders that still have a share: one scan of the merchant's lines."""
    sql = f"""
        SELECT COALESCE(cur.order_id, was.order_id) FROM (
            SELECT order_id, product_id, SUM(quantity) AS quantity FROM {_q(OrderLine)}
            WHERE merchant_id = %(merchant)s AND product_id IS NOT NULL
            GROUP BY order_id, product_id
        ) cur FULL OUTER JOIN (
            SELECT order_id, product_id, quantity FROM {_q(PurchaseCounted)}
            WHERE merchant_id = %(merchant)s
        ) was ON was.order_id = cur.order_id AND was.product_id = cur.product_id
        WHERE COALESCE(cur.quantity, 0) <> COALESCE(was.quantity, 0)
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {"merchant": merchant.pk})
        return sorted({row[0] for row in cursor.fetchall()})


def purchase_stats_refresh(
    *,
    merchants: Iterable[Merchant] | None = None,
    batch_size: int = SYNC_BATCH,
    progress: Callable[[Merchant, int, int], None] | None = None,
) -> int:
    """Sync every order whose share of the statistics is out of date (all of them on the first
    run), merchant by merchant, `batch_size` orders per transaction. `progress(merchant, done,
    total)` is called after each batch. Returns the orders that changed anything."""
    changed = 0
    for merchant in merchants if merchants is not None else Merchant.objects.order_by("pk"):
        due = orders_out_of_date(merchant=merchant)
        if progress is not None:
            progress(merchant, 0, len(due))
        for start in range(0, len(due), max(1, batch_size)):
            part = due[start : start + batch_size]
            changed += purchase_stats_sync(order_ids=part)
            if progress is not None:
                progress(merchant, start + len(part), len(due))
        if due:
            logger.info(
                "purchase statistics of merchant %s: %d orders synced", merchant.pk, len(due)
            )
    return changed
