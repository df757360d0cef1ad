"""The whole-page cache: a warm view is two queries, and nothing it holds goes stale or leaks
from one visitor or link to another."""

from __future__ import annotations

import re
from functools import partial

import pytest
from django.test import Client, TestCase

from tests.tracking.ingest_helpers import scan
from tests.trackpage.conftest import add_events, page_url
from tracking.domain import ShipmentStatus
from tracking.normalisation import shipment_record_events
from trackpage import selectors, services, shared_cache
from trackpage.models import MerchantPageBlock, PageView
from trackpage.services import page_views_flush, tracking_links_revoke

pytestmark = pytest.mark.django_db


def _record_scan(shipment, *, city: str, status=ShipmentStatus.OUT_FOR_DELIVERY):  # type: ignore[no-untyped-def]
    """A carrier scan recorded as a webhook's is (its events reach the page's handlers when the
    caller runs the on-commit callbacks)."""
    shipment_record_events(
        shipment=shipment, events=[scan(shipment, "2026-11-23T07:00", status, city=city)]
    )


def test_a_warm_page_is_no_query_with_redis_else_the_head_and_the_view_count(
    client, merchant_a, shipment_a, django_assert_num_queries
):
    url = page_url(merchant_a, shipment_a)
    first = client.get(url).content.decode()

    # With Redis the head is kept there and the view is counted in the cache round trip that
    # reads the page; otherwise the head is one query and the view one statement.
    with django_assert_num_queries(0 if shared_cache.shared() else 2):
        second = client.get(url).content.decode()

    assert second == first
    page_views_flush()
    assert PageView.objects.get(order=shipment_a.order).views == 2


def test_a_recorded_scan_shows_at_once(
    client, merchant_a, shipment_a, django_capture_on_commit_callbacks
):
    url = page_url(merchant_a, shipment_a)
    assert "Out for delivery at Dayton" not in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        _record_scan(shipment_a, city="Dayton")

    assert "Out for delivery at Dayton" in client.get(url).content.decode()


def test_a_change_made_without_an_event_shows_within_the_head_lifetime(
    client, merchant_a, shipment_a, settings
):
    """Without Redis the head is read on every view (at once); with it, a change that publishes
    no event (a raw write) shows once the kept head has expired."""
    import time_machine

    url = page_url(merchant_a, shipment_a)
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False) as traveller:
        assert "Scan 3:" not in client.get(url).content.decode()
        add_events(shipment_a, 1)
        shipment_a.save()  # no event: nothing tells the page

        traveller.shift(settings.TRACKPAGE_HEAD_TTL + 1)

        assert "Scan 3:" in client.get(url).content.decode()


def test_a_saved_block_shows_at_once(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    client.get(url)

    MerchantPageBlock.objects.create(
        merchant=merchant_a, title="Winter sale", html="<p>Socks half price</p>"
    )

    assert "Socks half price" in client.get(url).content.decode()


def test_a_revoked_link_is_refused_although_its_page_is_cached(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    assert client.get(url).status_code == 200

    tracking_links_revoke(order=shipment_a.order)

    refused = client.get(url)
    assert refused.status_code == 404
    assert "Order 1001" not in refused.content.decode()


def test_each_visitor_gets_a_working_csrf_token_from_the_shared_page(
    client, merchant_a, shipment_a
):
    add_events(shipment_a, 1, status="delivered")
    shipment_a.status = "delivered"
    shipment_a.save()
    url = page_url(merchant_a, shipment_a)
    client.get(url)  # another visitor fills the cache

    strict = Client(enforce_csrf_checks=True)
    body = strict.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)

    assert token is not None
    assert "slot" not in token.group(1)
    rated = strict.post(
        url + "rate/",
        {"shipment": shipment_a.public_id, "score": "5", "csrfmiddlewaretoken": token.group(1)},
    )
    assert rated.status_code == 302
    after = strict.get(url).content.decode()
    assert "You have rated this delivery" in after  # the rating changes the cached page's key


def test_thanks_after_rating_is_not_cached_for_later_views(client, merchant_a, shipment_a):
    add_events(shipment_a, 1, status="delivered")
    shipment_a.status = "delivered"
    shipment_a.save()
    url = page_url(merchant_a, shipment_a)

    thanks = client.get(f"{url}?rated={shipment_a.public_id}").content.decode()
    later = client.get(url).content.decode()

    assert "Thank you for your rating" in thanks
    assert "Thank you for your rating" not in later


def test_a_branding_change_shows_within_a_minute(client, merchant_a, shipment_a):
    import time_machine

    url = page_url(merchant_a, shipment_a)
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False) as traveller:
        assert "--tp-primary: #ffd60a;" not in client.get(url).content.decode()
        merchant_a.primary_colour = "#ffd60a"
        merchant_a.save()

        traveller.shift(61)

        assert "--tp-primary: #ffd60a;" in client.get(url).content.decode()


def test_another_process_keeps_the_merchant_no_longer_than_a_minute_after_it_was_read(
    client, merchant_a, shipment_a
):
    """The minute counts from the database read, not from when a process took the merchant from
    the shared cache: a process starting 50 s later keeps it for 10 s only."""
    import time_machine

    from trackpage.selectors import page_merchants_forget

    url = page_url(merchant_a, shipment_a)
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False) as traveller:
        client.get(url)  # read from the database, into the shared cache and this process
        traveller.shift(50)
        page_merchants_forget()  # another process: only the shared cache has the merchant
        client.get(url)
        merchant_a.primary_colour = "#ffd60a"
        merchant_a.save()

        traveller.shift(11)

        assert "--tp-primary: #ffd60a;" in client.get(url).content.decode()


def test_a_deactivated_store_is_gone_within_a_minute(client, merchant_a, shipment_a):
    import time_machine

    url = page_url(merchant_a, shipment_a)
    with time_machine.travel("2026-11-23 10:00:00+00:00", tick=False) as traveller:
        assert client.get(url).status_code == 200
        merchant_a.is_active = False
        merchant_a.save()

        traveller.shift(61)

        assert client.get(url).status_code == 404


# --- The page head kept in Redis: never re-installed stale, never across merchants -----------


def _view_racing_a_writer(client, url, shipment, monkeypatch, write):  # type: ignore[no-untyped-def]
    """A view that reads the head from the database, then `write` runs (another request,
    committed with its on-commit callbacks) before that view keeps the head it read: the race a
    plain read-through loses. The page of the old head is stored first, as it would be."""
    client.get(url)
    services.page_heads_forget(merchant_id=shipment.merchant_id, order_ids=[shipment.order_id])
    read = selectors.page_head
    done = []

    def racing(**kwargs):  # type: ignore[no-untyped-def]
        head = read(**kwargs)
        if not done:
            done.append(True)
            with TestCase.captureOnCommitCallbacks(execute=True):
                write()
        return head

    monkeypatch.setattr(selectors, "page_head", racing)
    return client.get(url)


@pytest.mark.redis_cache
def test_a_revocation_during_a_head_read_is_not_undone_by_the_reader(
    client, merchant_a, shipment_a, monkeypatch
):
    url = page_url(merchant_a, shipment_a)
    revoke = partial(tracking_links_revoke, order=shipment_a.order)

    # Read before the revocation: this one view may still show the page.
    assert _view_racing_a_writer(client, url, shipment_a, monkeypatch, revoke).status_code == 200

    assert client.get(url).status_code == 404  # the head that view kept is never used


@pytest.mark.redis_cache
def test_a_scan_during_a_head_read_is_not_hidden_by_the_reader(
    client, merchant_a, shipment_a, monkeypatch
):
    url = page_url(merchant_a, shipment_a)
    record = partial(_record_scan, shipment_a, city="Dayton")

    _view_racing_a_writer(client, url, shipment_a, monkeypatch, record)

    assert "Out for delivery at Dayton" in client.get(url).content.decode()


@pytest.mark.redis_cache
def test_a_revocation_is_refused_at_once_while_the_head_is_kept(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    client.get(url)
    assert client.get(url).status_code == 200  # served from the kept head

    tracking_links_revoke(order=shipment_a.order)  # no on-commit callbacks run here

    assert client.get(url).status_code == 404


@pytest.mark.redis_cache
def test_nothing_is_revoked_when_the_kept_heads_cannot_be_made_stale(
    client, merchant_a, shipment_a, monkeypatch
):
    import redis

    from trackpage.models import TrackingLinkRevocation

    url = page_url(merchant_a, shipment_a)
    client.get(url)

    def down(tag_keys):  # type: ignore[no-untyped-def]
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(shared_cache, "tags_renew", down)
    with pytest.raises(redis.ConnectionError):
        tracking_links_revoke(order=shipment_a.order)

    assert not TrackingLinkRevocation.objects.filter(order=shipment_a.order).exists()


@pytest.mark.redis_cache
def test_a_head_kept_for_one_merchant_does_not_open_its_page_for_another(
    client, merchant_a, merchant_b, order_b
):
    from trackpage import links

    shipment_b = order_b.shipments.get()
    own = links.page_token_for_shipment(
        merchant_slug=merchant_b.slug, shipment_public_id=shipment_b.public_id
    )
    assert client.get(f"/{merchant_b.slug}/track/t/{own}/").status_code == 200  # head kept

    foreign = links.page_token_for_shipment(
        merchant_slug=merchant_a.slug, shipment_public_id=shipment_b.public_id
    )
    assert client.get(f"/{merchant_a.slug}/track/t/{foreign}/").status_code == 404
    assert client.get(f"/{merchant_a.slug}/track/t/{foreign}/").status_code == 404
