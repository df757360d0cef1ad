"""The whole-page cache: a warm view is two queries, and nothing it holds goes stale or leaks
from one visitor or link to another."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.trackpage.conftest import add_events, page_url
from trackpage import shared_cache
from trackpage.models import MerchantPageBlock, PageView
from trackpage.services import page_views_flush, tracking_links_revoke

pytestmark = pytest.mark.django_db


def test_a_warm_page_is_the_head_query_and_the_view_count(
    client, merchant_a, shipment_a, django_assert_num_queries
):
    url = page_url(merchant_a, shipment_a)
    first = client.get(url).content.decode()

    # With Redis the view is counted in the cache round trip that reads the page; otherwise it
    # is one statement of its own.
    with django_assert_num_queries(1 if shared_cache.shared() else 2):
        second = client.get(url).content.decode()

    assert second == first
    page_views_flush()
    assert PageView.objects.get(order=shipment_a.order).views == 2


def test_a_new_scan_shows_at_once(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    assert "Scan 3:" not in client.get(url).content.decode()

    add_events(shipment_a, 1)
    shipment_a.save()  # recording a scan updates the shipment

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
