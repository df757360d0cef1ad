"""Page views counted in Redis and written to PageView in batches: the same rows and counters
as counting each view in the database, nothing counted twice, nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from tests.trackpage.conftest import page_url
from trackpage.models import PageView
from trackpage.services import PageViewCount, page_view_count, page_views_flush

pytestmark = [pytest.mark.django_db, pytest.mark.redis_cache]


def test_views_wait_in_redis_until_the_flush_writes_them(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    client.get(url)
    client.get(url)

    assert not PageView.objects.exists()
    assert page_views_flush() == 1
    view = PageView.objects.get(order=shipment_a.order)
    assert (view.views, view.via) == (2, "link")
    assert page_views_flush() == 0  # taken once: a second flush writes nothing
    assert PageView.objects.get(order=shipment_a.order).views == 2


def test_a_flush_adds_to_the_visitors_row_and_keeps_the_first_and_last_view(merchant_a, shipment_a):
    view = PageViewCount(
        merchant_id=merchant_a.pk, order_id=shipment_a.order_id, visitor="v" * 32, via="link"
    )
    with time_machine.travel(datetime(2026, 11, 22, 9, 0, tzinfo=UTC), tick=False):
        page_view_count(view)
    page_views_flush()
    with time_machine.travel(datetime(2026, 11, 22, 10, 0, tzinfo=UTC), tick=False):
        page_view_count(view)
    with time_machine.travel(datetime(2026, 11, 22, 11, 0, tzinfo=UTC), tick=False):
        page_view_count(view)
    page_views_flush()

    row = PageView.objects.get(order=shipment_a.order, visitor="v" * 32)
    assert row.views == 3
    assert row.first_viewed_at == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert row.last_viewed_at == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)


def test_views_of_an_order_deleted_meanwhile_are_dropped_not_failing_the_batch(
    merchant_a, shipment_a
):
    kept = PageViewCount(
        merchant_id=merchant_a.pk, order_id=shipment_a.order_id, visitor="k" * 32, via="link"
    )
    gone = PageViewCount(merchant_id=merchant_a.pk, order_id=999_999, visitor="g" * 32, via="link")
    page_view_count(kept)
    page_view_count(gone)

    assert page_views_flush() == 1
    assert list(PageView.objects.values_list("visitor", flat=True)) == ["k" * 32]
