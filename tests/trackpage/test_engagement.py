"""Outbound links, merchant HTML, calendar, rating and conversions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing

from commerce.inputs import AddressInput, CustomerInput, OrderInput, OrderLineInput
from commerce.services import order_upsert
from tests.factories import OrderFactory
from tests.trackpage.conftest import add_events, page_url
from trackpage import links
from trackpage.models import Conversion, DeliveryRating, LinkClick, MerchantPageBlock
from trackpage.sanitising import sanitise_block_html
from trackpage.services import conversion_attribute

pytestmark = pytest.mark.django_db


def _go(merchant, url, kind="store", number="1001"):  # type: ignore[no-untyped-def]
    token = links.go_token(
        merchant_slug=merchant.slug,
        target=links.GoTarget(url=url, kind=kind, order_number=number),
    )
    return f"/{merchant.slug}/track/go/{token}/"


def test_redirect_records_click_and_adds_utm_on_the_merchants_domain(
    client, merchant_a, shipment_a
):
    response = client.get(_go(merchant_a, "https://www.aurora.example/new?ref=x"))

    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.hostname == "www.aurora.example"
    query = parse_qs(target.query)
    assert query["utm_source"] == ["tracking_page"]
    assert query["utm_content"] == ["store"]
    assert query["ref"] == ["x"]
    click = LinkClick.objects.get()
    assert (click.order_id, click.kind) == (shipment_a.order_id, "store")


def test_redirect_to_a_carrier_gets_no_utm(client, merchant_a, shipment_a):
    response = client.get(_go(merchant_a, "https://www.ups.com/track?tracknum=1Z", "carrier"))
    assert response.headers["Location"] == "https://www.ups.com/track?tracknum=1Z"


@pytest.mark.parametrize(
    "url", ["https://evil.example/", "https://aurora.example.evil.com/", "javascript:alert(1)"]
)
def test_redirect_refuses_foreign_hosts_even_when_signed(client, merchant_a, shipment_a, url):
    assert client.get(_go(merchant_a, url)).status_code == 404
    assert not LinkClick.objects.exists()


def test_redirect_refuses_unsigned_and_other_merchants_links(client, merchant_a, merchant_b):
    unsigned = signing.Signer(salt="nope").sign_object({"u": "https://www.aurora.example/"})
    assert client.get(f"/aurora/track/go/{unsigned}/").status_code == 404
    assert (
        client.get(
            _go(merchant_b, "https://www.aurora.example/").replace("aurora-jp", "aurora")
        ).status_code
        == 404
    )


def test_page_links_go_through_the_redirect(client, merchant_a, shipment_a):
    body = client.get(page_url(merchant_a, shipment_a)).content.decode()
    assert 'href="https://www.aurora.example' not in body
    assert "/aurora/track/go/" in body


def test_merchant_html_renders_inert(client, merchant_a, shipment_a):
    block = MerchantPageBlock.objects.create(
        merchant=merchant_a,
        title="Winter sale",
        html=(
            '<p onclick="steal()">Big <b>sale</b><script>alert(1)</script></p>'
            '<img src="https://www.aurora.example/x.png" onerror="alert(2)">'
            '<a href="javascript:alert(3)">click</a>'
            '<a href="https://www.aurora.example/sale">sale</a>'
            '<a href="https://evil.example/">evil</a><style>body{}</style>'
        ),
    )
    block.refresh_from_db()
    assert "<script" not in block.html
    assert "onerror" not in block.html

    # Stored HTML written around the model (e.g. by a raw update) is cleaned again on render.
    MerchantPageBlock.objects.filter(pk=block.pk).update(
        html='<p>hi</p><script>alert(4)</script><a href="javascript:x()">j</a>'
    )
    body = client.get(page_url(merchant_a, shipment_a)).content.decode()
    section = body.split('class="block__body">')[1].split("</div>")[0]

    assert "<script" not in section
    assert "javascript:" not in section
    assert "alert(" not in section
    assert "<p>hi</p>" in section


def test_sanitiser_routes_links_and_drops_foreign_ones():
    html = sanitise_block_html(
        '<a href="https://a.example/x" onmouseover="x()">a</a><a href="https://b.example">b</a>',
        rewrite_href=lambda href: "/go/1/" if "a.example" in href else None,
    )
    assert html == (
        '<a href="/go/1/" rel="noopener noreferrer nofollow">a</a>'
        '<a rel="noopener noreferrer nofollow">b</a>'
    )


def test_calendar_is_an_all_day_event_over_the_window(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a) + f"calendar/{shipment_a.public_id}.ics"
    response = client.get(url)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    lines = text.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR"
    assert "DTSTART;VALUE=DATE:20261124" in lines
    assert "DTEND;VALUE=DATE:20261127" in lines  # exclusive end: the 26th is included
    assert f"UID:{shipment_a.public_id}-delivery-window@testserver" in lines
    assert "DTSTAMP:20261122T080000Z" in lines
    assert any(
        line.startswith("SUMMARY:Delivery of order 1001 from Aurora Outfitters") for line in lines
    )
    assert all(len(line.encode()) <= 75 for line in lines)
    assert text.endswith("END:VCALENDAR\r\n")


def test_rating_after_delivery_and_errors_keep_the_comment(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    early = client.post(
        url + "rate/", {"shipment": shipment_a.public_id, "score": "5", "comment": "hi"}
    )
    assert early.status_code == 400
    assert "once it has arrived" in early.content.decode()
    assert not DeliveryRating.objects.exists()

    add_events(shipment_a, 1, status="delivered")
    shipment_a.status = "delivered"
    shipment_a.save()
    missing = client.post(
        url + "rate/", {"shipment": shipment_a.public_id, "comment": "Left at the door, all good"}
    )
    assert missing.status_code == 400
    assert "Left at the door, all good" in missing.content.decode()
    assert not DeliveryRating.objects.exists()

    done = client.post(
        url + "rate/", {"shipment": shipment_a.public_id, "score": "4", "comment": "Fine"}
    )
    assert done.status_code == 302
    rating = DeliveryRating.objects.get()
    assert (rating.score, rating.comment) == (4, "Fine")
    assert "Thank you for your rating" in client.get(done.headers["Location"]).content.decode()


def test_rating_requires_csrf(merchant_a, shipment_a):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(page_url(merchant_a, shipment_a) + "rate/", {"score": "5"})
    assert response.status_code == 403


def test_later_order_after_a_store_click_is_a_conversion(client, merchant_a, shipment_a):
    client.get(_go(merchant_a, "https://www.aurora.example/", "store"))
    click = LinkClick.objects.get()
    later = OrderFactory(
        merchant=merchant_a,
        customer=shipment_a.order.customer,
        number="1002",
        placed_at=click.clicked_at + timedelta(days=2),
    )

    conversion = conversion_attribute(order_id=later.pk)
    conversion_attribute(order_id=later.pk)  # twice: no second effect

    assert conversion is not None
    assert (conversion.source_order_id, conversion.touch) == (shipment_a.order_id, "click")
    assert Conversion.objects.count() == 1


def test_order_outside_the_window_is_not_a_conversion(client, merchant_a, shipment_a):
    client.get(_go(merchant_a, "https://www.aurora.example/", "store"))
    click = LinkClick.objects.get()
    later = OrderFactory(
        merchant=merchant_a,
        customer=shipment_a.order.customer,
        number="1003",
        placed_at=click.clicked_at + timedelta(days=8),
    )
    assert conversion_attribute(order_id=later.pk) is None


def test_order_created_event_attributes_through_the_handler(
    client, merchant_a, shipment_a, django_capture_on_commit_callbacks
):
    client.get(page_url(merchant_a, shipment_a))  # a view, no click
    customer = shipment_a.order.customer
    with django_capture_on_commit_callbacks(execute=True):
        _upsert_later_order(merchant_a, customer)
    conversion = Conversion.objects.get()
    assert (conversion.source_order_id, conversion.touch) == (shipment_a.order_id, "view")


def _upsert_later_order(merchant, customer):  # type: ignore[no-untyped-def]
    order_upsert(
        merchant=merchant,
        payload=OrderInput(
            external_id="ord-later",
            number="1004",
            placed_at=datetime.now(tz=UTC),
            currency="USD",
            customer=CustomerInput(external_id=customer.external_id, email=customer.email),
            shipping_address=AddressInput(country="US", postcode="10001"),
            lines=[
                OrderLineInput(
                    external_id="l1",
                    sku="X-1",
                    title="Sock",
                    quantity=1,
                    unit_price=Decimal("18.00"),
                )
            ],
        ),
    )
