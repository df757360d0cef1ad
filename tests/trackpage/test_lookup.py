"""Getting to the page: lookups that do not leak which part was wrong, rate limits, tenancy,
links that expire or are revoked, custom domains."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.test import RequestFactory

from notifications.tokens import TRACKING_SALT
from tests.trackpage.conftest import page_url
from trackpage.client_address import client_ip
from trackpage.services import tracking_links_revoke

pytestmark = pytest.mark.django_db


def _lookup(client, slug, number, contact, **extra):  # type: ignore[no-untyped-def]
    return client.post(
        f"/{slug}/track/",
        {"mode": "order", "order-order_number": number, "order-contact": contact},
        **extra,
    )


def _comparable(body: str, *typed: str) -> str:
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    for value in typed:
        body = body.replace(f'value="{value}"', "")
    return body


@pytest.mark.parametrize("contact", ["alice.ng@example.com", " ALICE.NG@example.COM ", "10001"])
def test_lookup_with_email_or_postcode_redirects_to_the_page(client, shipment_a, contact):
    response = _lookup(client, "aurora", "#1001", contact)

    assert response.status_code == 302
    assert "/aurora/track/t/" in response.headers["Location"]
    assert str(shipment_a.order.pk) not in response.headers["Location"].split("/t/")[0]
    assert client.get(response.headers["Location"]).status_code == 200


def test_wrong_email_wrong_postcode_and_unknown_order_are_indistinguishable(client, shipment_a):
    answers = [
        _lookup(client, "aurora", "1001", "bob@example.com"),
        _lookup(client, "aurora", "1001", "99999"),
        _lookup(client, "aurora", "9999", "alice.ng@example.com"),
    ]
    typed = ["1001", "9999", "bob@example.com", "99999", "alice.ng@example.com"]

    assert {a.status_code for a in answers} == {200}
    bodies = {_comparable(a.content.decode(), *typed) for a in answers}
    assert len(bodies) == 1
    assert "We could not find an order with these details" in bodies.pop()


def test_limiter_trips_per_order_number_across_clients(client, shipment_a, settings):
    settings.TRACKPAGE_LOOKUP_LIMIT_PER_ORDER = 3
    for i in range(3):
        assert (
            _lookup(client, "aurora", "1001", "x@y.z", REMOTE_ADDR=f"198.51.100.{i}").status_code
            == 200
        )

    blocked = _lookup(client, "aurora", "1001", "alice.ng@example.com", REMOTE_ADDR="198.51.100.9")

    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.content.decode()


def test_limiter_trips_per_client_across_order_numbers(client, shipment_a, settings):
    settings.TRACKPAGE_LOOKUP_LIMIT_PER_CLIENT = 2
    _lookup(client, "aurora", "2001", "x@y.z")
    _lookup(client, "aurora", "2002", "x@y.z")

    assert _lookup(client, "aurora", "1001", "alice.ng@example.com").status_code == 429
    # Another client is not affected.
    assert _lookup(client, "aurora", "1001", "10001", REMOTE_ADDR="192.0.2.7").status_code == 302


def test_client_address_behind_trusted_proxies(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5, 10.0.0.1"
    )
    settings.TRACKPAGE_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.TRACKPAGE_TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "203.0.113.5"  # the forged left-most entry is ignored
    settings.TRACKPAGE_TRUSTED_PROXY_COUNT = 5
    assert client_ip(request) == "10.0.0.2"


def test_merchant_a_slug_with_merchant_b_order_is_not_found(client, shipment_a, order_b):
    # Same number, same email at merchant B: looking up at A finds A's order only...
    response = _lookup(client, "aurora", "1001", "100-0001")
    assert response.status_code == 200
    assert "We could not find" in response.content.decode()
    # ...and B's link does not open under A's slug.
    b_shipment = order_b.shipments.get()
    token = page_url(order_b.merchant, b_shipment).split("/t/")[1]
    assert client.get(f"/aurora/track/t/{token}").status_code == 404


def test_tracking_number_lookup_shows_status_without_order_details(client, shipment_a):
    response = client.post(
        "/aurora/track/",
        {"mode": "tracking_number", "parcel-tracking_number": shipment_a.tracking_number.lower()},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).content.decode()

    assert "On its way" in page
    assert "1001" not in page
    assert "Merino crew sock" not in page
    assert "Hub 0" not in page
    assert "A••" not in page


def test_expired_link_is_refused(client, merchant_a, shipment_a, settings):
    url = page_url(merchant_a, shipment_a)
    with time_machine.travel(timedelta(days=181), tick=False):
        response = client.get(url)
    assert response.status_code == 410
    assert "expired" in response.content.decode()


def test_revoked_links_stop_working_and_new_ones_work(client, merchant_a, shipment_a):
    old = page_url(merchant_a, shipment_a)
    tracking_links_revoke(order=shipment_a.order, reason="shared by mistake")

    assert client.get(old).status_code == 404
    with time_machine.travel(timedelta(seconds=2)):
        assert client.get(page_url(merchant_a, shipment_a)).status_code == 200


def test_forged_or_foreign_token_is_not_found(client, merchant_a, shipment_a):
    forged = signing.dumps({"m": "aurora", "s": shipment_a.public_id}, salt="other", compress=True)
    assert client.get(f"/aurora/track/t/{forged}/").status_code == 404
    for_b = signing.dumps({"m": "aurora-jp", "s": shipment_a.public_id}, salt=TRACKING_SALT)
    assert client.get(f"/aurora/track/t/{for_b}/").status_code == 404


def test_custom_domain_serves_the_merchants_lookup(client, merchant_a, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "track.aurora.example"]
    merchant_a.custom_domain = "track.aurora.example"
    merchant_a.save()

    response = client.get("/", HTTP_HOST="track.aurora.example")

    assert response.status_code == 200
    assert "Aurora Outfitters" in response.content.decode()
    assert 'action="/aurora/track/"' in response.content.decode()
