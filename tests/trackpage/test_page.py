"""The tracking page itself: what it shows, in which language, in how many queries."""

from __future__ import annotations

import pytest

from notifications.tokens import tracking_url
from tests.trackpage.conftest import add_events, page_url
from trackpage.models import PageView
from trackpage.services import page_views_flush

pytestmark = pytest.mark.django_db


def test_page_shows_status_window_items_and_newest_event_first(client, merchant_a, shipment_a):
    response = client.get(page_url(merchant_a, shipment_a))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Order 1001" in body
    assert "On its way" in body
    assert "Merino crew sock" in body
    assert body.index("Scan 2:") < body.index("Scan 1:") < body.index("Scan 0:")
    assert '<time datetime="2026-11-21T11:00:00+00:00">' in body
    # Masked address: the street and name are not readable in full.
    assert "1 Main St" not in body
    assert "A••••" in body


def test_notification_link_opens_the_page(client, merchant_a, shipment_a, settings):
    settings.NOTIFICATIONS_BASE_URL = "http://localhost:8000"
    url = tracking_url(merchant_slug=merchant_a.slug, tracking_ref=shipment_a.public_id)

    response = client.get(url.removeprefix("http://localhost:8000"))

    assert response.status_code == 200
    assert "Order 1001" in response.content.decode()


def test_page_in_japanese_formats_dates_in_destination_zone(client, merchant_a, shipment_a):
    response = client.get(page_url(merchant_a, shipment_a) + "?lang=ja")

    body = response.content.decode()
    assert response.headers["Content-Language"] == "ja"
    assert '<html lang="ja">' in body
    assert "お届け中です" in body  # the status, translated (locale/ja, compiled by `make messages`)
    assert "追跡履歴" in body
    assert "2026/11/21" in body  # Babel's medium Japanese date
    # Destination is the US with a New York shopper: 11:00 UTC is 6:00 there.
    assert "6:00:00" in body


def test_query_count_is_the_same_for_1_and_200_events(
    client, merchant_a, shipment_a, django_assert_num_queries
):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    shipment_a.events.all().delete()
    add_events(shipment_a, 1)
    url = page_url(merchant_a, shipment_a)
    client.get(url)  # sets the visitor cookie, so both measured views update one row
    cache.clear()
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_events(shipment_a, 199)
    shipment_a.save()  # a new scan changes the shipment (and so the fragment's key)
    cache.clear()
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.content.decode().count('class="timeline__event') == 200


def test_cached_fragment_is_replaced_when_the_shipment_changes(
    client, merchant_a, shipment_a, django_capture_on_commit_callbacks
):
    from tests.tracking.ingest_helpers import scan
    from tracking.domain import ShipmentStatus
    from tracking.normalisation import shipment_record_events

    url = page_url(merchant_a, shipment_a)
    assert "Delivered" not in client.get(url).content.decode().split("Tracking history")[1]

    # Recorded as a carrier webhook is: the scan's events reach the page's handlers.
    with django_capture_on_commit_callbacks(execute=True):
        delivered = scan(shipment_a, "2026-11-23T07:00", ShipmentStatus.DELIVERED)
        shipment_record_events(shipment=shipment_a, events=[delivered])

    assert "How was your delivery?" in client.get(url).content.decode()


def test_views_are_counted_per_visitor_without_personal_data(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    client.get(url)
    client.get(url)
    client.cookies.clear()
    client.get(url, REMOTE_ADDR="203.0.113.9")
    page_views_flush()  # views counted in Redis are written by the periodic flush

    views = list(PageView.objects.filter(order=shipment_a.order).order_by("first_viewed_at"))
    assert [v.views for v in views] == [2, 1]
    assert all(len(v.visitor) == 32 and "203.0.113" not in v.visitor for v in views)


def test_live_fragment_polls_while_moving(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    response = client.get(url + "live/", HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert body.startswith('<div id="shipments"')
    assert 'hx-trigger="every 60s"' in body
    assert not PageView.objects.exists()  # polling is not a page view


def test_order_without_shipments_says_it_is_being_prepared(client, order_a):
    response = client.post(
        "/aurora/track/",
        {"mode": "order", "order-order_number": "1001", "order-contact": "10001"},
    )
    page = client.get(response.headers["Location"])

    body = page.content.decode()
    assert page.status_code == 200
    assert "We are preparing your order" in body


def test_cached_fragment_carries_each_links_own_token(client, merchant_a, shipment_a):
    from trackpage.links import page_token_for_order

    first = page_url(merchant_a, shipment_a)
    second_token = page_token_for_order(
        merchant_slug=merchant_a.slug, order_external_id=shipment_a.order.external_id
    )
    first_token = first.split("/t/")[1].rstrip("/")

    client.get(first)  # fills the fragment cache
    body = client.get(f"/aurora/track/t/{second_token}/").content.decode()

    assert f"/aurora/track/t/{second_token}/live/" in body
    assert f"/t/{second_token}/calendar/{shipment_a.public_id}.ics" in body
    assert first_token not in body


def test_branding_is_css_custom_properties_and_cannot_break_out(client, merchant_a, shipment_a):
    merchant_a.primary_colour = "#ffd60a"
    merchant_a.font_family = "'Inter', sans-serif</style><script>alert(1)</script>"
    merchant_a.save()

    body = client.get(page_url(merchant_a, shipment_a)).content.decode()
    style = body.split("<style>")[1].split("</style>")[0]

    assert "--tp-primary: #ffd60a;" in style
    assert "--tp-on-primary: #000000;" in style  # dark text on a light brand colour
    assert "--tp-font: 'Inter', sans-serifstylescriptalert1script;" in style
    assert "<script>alert" not in body


def test_late_parcel_says_so_and_what_happens_next(client, merchant_a, shipment_a):
    import time_machine

    with time_machine.travel("2026-11-28 15:00:00+00:00", tick=False):
        body = client.get(page_url(merchant_a, shipment_a)).content.decode()

    assert 'class="notice notice--late"' in body
    assert "later than we promised" in body


def test_exception_explains_the_reason_and_next_step(client, merchant_a, shipment_a):
    shipment_a.status = "exception"
    shipment_a.status_reason = "customs.documents"
    shipment_a.save()

    body = client.get(page_url(merchant_a, shipment_a) + "?lang=ja").content.decode()

    assert 'class="notice notice--trouble"' in body
    assert "税関" in body  # customs, in Japanese


def test_moved_promise_is_reported_with_the_first_date(client, merchant_a, shipment_a):
    from datetime import date

    import time_machine

    shipment_a.first_promise_date = date(2026, 11, 25)
    shipment_a.save()
    with time_machine.travel("2026-11-23 12:00:00+00:00", tick=False):
        body = client.get(page_url(merchant_a, shipment_a)).content.decode()

    assert "The delivery date has moved from November 25, 2026" in body


def test_delivered_parcel_shows_when_not_the_old_estimate(client, merchant_a, shipment_a):
    from datetime import UTC, datetime

    shipment_a.status = "delivered"
    shipment_a.delivered_at = datetime(2026, 11, 25, 19, 30, tzinfo=UTC)
    shipment_a.save()

    body = client.get(page_url(merchant_a, shipment_a)).content.decode()

    assert "Expected delivery" not in body
    assert "Add to calendar" not in body
    assert "Nov 25, 2026, 2:30:00" in body  # in New York time


def test_a_scan_reported_by_the_carrier_and_an_aggregator_is_shown_once(
    client, merchant_a, shipment_a
):
    from dataclasses import replace

    from tests.tracking.ingest_helpers import scan
    from tracking.domain import ShipmentStatus
    from tracking.models import ScanOrigin
    from tracking.normalisation import ShipmentEvents, shipments_record_events

    at = "2026-11-22T14:10:00+00:00"
    relayed = scan(shipment_a, at, ShipmentStatus.OUT_FOR_DELIVERY, "OutForDelivery_001")
    own = scan(shipment_a, at, ShipmentStatus.OUT_FOR_DELIVERY, "OT")
    for event, text, source, origin in [
        (relayed, "Relayed: with courier", "webhook", ScanOrigin.AGGREGATOR),
        (own, "Own: loaded on delivery vehicle", "poll", ScanOrigin.CARRIER),
    ]:
        shipments_record_events(
            batch=[ShipmentEvents(shipment_a, [replace(event, carrier_text=text)], source, origin)]
        )

    body = client.get(page_url(merchant_a, shipment_a)).content.decode()

    assert "Own: loaded on delivery vehicle" in body
    assert "Relayed: with courier" not in body
