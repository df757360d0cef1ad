"""Pages rendered ahead of the first view: a scan, a status change or a new order stores the
order's page, so the shopper's first view is a cache hit; nothing stored goes stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command

from commerce.inputs import AddressInput, CustomerInput, OrderInput, OrderLineInput
from commerce.services import order_upsert
from tests.factories import OrderFactory, ShipmentFactory
from tests.tracking.ingest_helpers import scan
from tests.trackpage.conftest import add_events, page_url
from tracking.domain import ShipmentStatus
from tracking.models import Shipment
from tracking.normalisation import shipment_record_events
from trackpage import links, services, shared_cache
from trackpage.services import tracking_links_revoke

pytestmark = pytest.mark.django_db


def _record_scan(shipment, when: str, status=ShipmentStatus.OUT_FOR_DELIVERY, city="Dayton"):  # type: ignore[no-untyped-def]
    shipment_record_events(shipment=shipment, events=[scan(shipment, when, status, city=city)])


def _fresh_render(client, url: str) -> str:  # type: ignore[no-untyped-def]
    """The page as the view renders it from nothing."""
    cache.clear()
    response = client.get(url)
    assert response.templates  # rendered by the view
    return response.content.decode()


def test_a_scan_renders_the_page_before_the_shopper_opens_it(
    client, merchant_a, shipment_a, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=True):
        _record_scan(shipment_a, "2026-11-23T07:00")
    url = page_url(merchant_a, shipment_a)

    # The store (then kept a minute); without Redis also the head and the view counter (with
    # it, the head was kept by the render-ahead and the view is counted there).
    with django_assert_num_queries(1 if shared_cache.shared() else 3):
        first = client.get(url)

    assert first.status_code == 200
    assert first.templates == []  # nothing rendered on the first view
    body = first.content.decode()
    assert "Out for delivery at Dayton" in body
    assert body == _fresh_render(client, url)


def test_a_page_rendered_ahead_never_hides_a_later_change(
    client, merchant_a, shipment_a, django_capture_on_commit_callbacks, settings
):
    """A change that publishes no event shows at once without Redis, and once the head kept with
    the page rendered ahead has expired with it (TRACKPAGE_HEAD_TTL)."""
    import time_machine

    with django_capture_on_commit_callbacks(execute=True):
        _record_scan(shipment_a, "2026-11-23T07:00")
    url = page_url(merchant_a, shipment_a)

    add_events(shipment_a, 1)  # written without the handler: the stored page is now out of date
    Shipment.objects.filter(pk=shipment_a.pk).update(updated_at=datetime.now(tz=UTC))
    later = datetime.now(tz=UTC) + timedelta(seconds=settings.TRACKPAGE_HEAD_TTL + 1)
    with time_machine.travel(later, tick=False):
        response = client.get(url)

    assert response.templates  # the stored page's key no longer matches: rendered anew
    assert "Scan 4:" in response.content.decode()


def test_a_revoked_link_is_refused_although_its_page_was_rendered_ahead(
    client, merchant_a, shipment_a, django_capture_on_commit_callbacks
):
    url = page_url(merchant_a, shipment_a)
    tracking_links_revoke(order=shipment_a.order)
    with django_capture_on_commit_callbacks(execute=True):
        _record_scan(shipment_a, "2026-11-23T07:00")

    refused = client.get(url)

    assert refused.status_code == 404
    assert "Dayton" not in refused.content.decode()


def test_a_delivery_renders_the_page_with_its_rating_form_and_a_working_csrf_token(
    client, merchant_a, shipment_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _record_scan(shipment_a, "2026-11-23T12:00", ShipmentStatus.DELIVERED)
    response = client.get(page_url(merchant_a, shipment_a))

    assert response.templates == []
    body = response.content.decode()
    assert "How was your delivery?" in body
    assert "slot" not in body  # token and CSRF placeholders filled in


def test_a_new_order_is_rendered_ahead_in_its_language(
    client, merchant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = order_upsert(
            merchant=merchant_a,
            payload=OrderInput(
                external_id="ord-ja",
                number="2001",
                placed_at=datetime.now(tz=UTC),
                currency="USD",
                language="ja",
                customer=CustomerInput(external_id="c-ja", email="hanako@example.com"),
                shipping_address=AddressInput(country="US", postcode="10001"),
                lines=[
                    OrderLineInput(
                        external_id="l1", sku="X-1", title="Sock", quantity=1,
                        unit_price=Decimal("18.00"),
                    )
                ],
            ),
        )  # fmt: skip
    token = links.page_token_for_order(
        merchant_slug=merchant_a.slug, order_external_id=result.order.external_id
    )
    url = f"/{merchant_a.slug}/track/t/{token}/"

    japanese = client.get(url, {"lang": "ja"})
    english = client.get(url, {"lang": "en"})  # the store's default is rendered too

    assert japanese.templates == []
    assert english.templates == []
    assert "注文" in japanese.content.decode()
    assert "Order 2001" in english.content.decode()


def test_render_ahead_leaves_a_page_already_stored_under_its_key(merchant_a, shipment_a):
    order_ids = [shipment_a.order_id]

    first = services.pages_render_ahead(merchant_id=merchant_a.pk, order_ids=order_ids)
    again = services.pages_render_ahead(merchant_id=merchant_a.pk, order_ids=order_ids)

    assert (first, again) == (1, 0)


def test_the_backfill_renders_orders_changed_recently_and_leaves_old_ones(client, merchant_a):
    recent = ShipmentFactory(order=OrderFactory(merchant=merchant_a), carrier="ups")
    old = ShipmentFactory(
        order=OrderFactory(
            merchant=merchant_a, placed_at=datetime.now(tz=UTC) - timedelta(days=40)
        ),
        carrier="ups",
    )
    Shipment.objects.filter(pk=old.pk).update(updated_at=datetime.now(tz=UTC) - timedelta(days=30))
    out, err = StringIO(), StringIO()

    call_command("trackpage_render_ahead", "--days", "14", stdout=out, stderr=err)

    assert "1 orders, 1 pages rendered" in out.getvalue()
    assert "render ahead" in err.getvalue()  # the progress bar
    assert client.get(page_url(merchant_a, recent)).templates == []
    assert client.get(page_url(merchant_a, old)).templates != []


@pytest.mark.postgres
@pytest.mark.redis_cache
@pytest.mark.django_db(transaction=True)
def test_the_backfill_on_several_threads_renders_every_order_once(client, merchant_a):
    """Pool threads each open their own database connection and write to the shared cache."""
    shipments = [
        ShipmentFactory(order=OrderFactory(merchant=merchant_a), carrier="ups") for _ in range(5)
    ]
    cache.clear()
    out, err = StringIO(), StringIO()

    call_command(
        "trackpage_render_ahead",
        "--threads",
        "2",
        "--batch-size",
        "2",
        stdout=out,
        stderr=err,
    )

    assert "5 orders, 5 pages rendered" in out.getvalue()
    for shipment in shipments:
        assert client.get(page_url(merchant_a, shipment)).templates == []  # served as stored
    again = StringIO()
    call_command("trackpage_render_ahead", "--threads", "2", stdout=again, stderr=StringIO())
    assert "5 orders, 0 pages rendered" in again.getvalue()


def test_the_hourly_task_renders_what_is_not_stored_and_nothing_twice(
    client, merchant_a, merchant_b
):
    """After a midnight or a cache flush the beat task renders the pages, not the shopper: it
    fans out one batch task per merchant and 200 orders, and a batch run again renders nothing."""
    from trackpage import tasks

    shipment = ShipmentFactory(order=OrderFactory(merchant=merchant_a), carrier="ups")
    other = ShipmentFactory(order=OrderFactory(merchant=merchant_b), carrier="ups")
    cache.clear()  # as after a flush (or new keys after midnight)

    assert tasks.pages_render_ahead_recent.delay().get() == 2  # one batch per merchant
    for each in (shipment, other):
        assert client.get(page_url(each.merchant, each)).templates == []  # a hit, not a render
    again = tasks.pages_render_ahead_batch.delay(merchant_a.pk, [shipment.order_id]).get()
    assert again == 0  # stored under its key: left alone


def test_the_hourly_task_splits_many_orders_into_bounded_batches(merchant_a, monkeypatch):
    """However many orders are in flight, no one task renders more than a batch of them."""
    from trackpage import tasks

    orders = [
        ShipmentFactory(order=OrderFactory(merchant=merchant_a), carrier="ups").order
        for _ in range(5)
    ]
    monkeypatch.setattr(tasks, "RENDER_AHEAD_BATCH", 2)
    queued: list[list[int]] = []
    monkeypatch.setattr(
        tasks.pages_render_ahead_batch, "delay", lambda _merchant_id, ids: queued.append(ids)
    )

    assert tasks.pages_render_ahead_recent.delay().get() == 3
    assert [len(ids) for ids in queued] == [2, 2, 1]
    assert sorted(i for ids in queued for i in ids) == sorted(order.pk for order in orders)
