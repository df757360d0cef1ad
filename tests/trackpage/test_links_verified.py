"""Verified links are kept per process (`links._verified`): a kept link is still refused once it
has expired, under another merchant's slug, and when revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from tests.trackpage.conftest import page_url
from trackpage import links
from trackpage.services import tracking_links_revoke

pytestmark = pytest.mark.django_db


def test_a_kept_link_is_refused_once_it_has_expired(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    assert client.get(url).status_code == 200
    assert links._verified.cache_info().currsize >= 1

    with time_machine.travel(timedelta(days=181), tick=False):
        assert client.get(url).status_code == 410


def test_a_kept_link_opens_nothing_under_another_merchants_slug(client, merchant_a, merchant_b):
    token = links.page_token_for_shipment(merchant_slug=merchant_a.slug, shipment_public_id="x")
    links.page_token_read(merchant_slug=merchant_a.slug, token=token)  # kept

    with pytest.raises(links.DomainError):
        links.page_token_read(merchant_slug=merchant_b.slug, token=token)


def test_a_kept_link_is_refused_under_another_secret_key(merchant_a, settings):
    token = links.page_token_for_shipment(merchant_slug=merchant_a.slug, shipment_public_id="z")
    links.page_token_read(merchant_slug=merchant_a.slug, token=token)  # kept

    settings.SECRET_KEY = "another-secret-key-" + "k" * 40
    with pytest.raises(links.DomainError):
        links.page_token_read(merchant_slug=merchant_a.slug, token=token)


def test_a_bad_signature_is_not_kept(merchant_a):
    token = links.page_token_for_shipment(merchant_slug=merchant_a.slug, shipment_public_id="y")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    before = links._verified.cache_info().currsize

    for _ in range(2):
        with pytest.raises(links.DomainError):
            links.page_token_read(merchant_slug=merchant_a.slug, token=forged)
    assert links._verified.cache_info().currsize == before


def test_a_kept_link_is_refused_once_revoked(client, merchant_a, shipment_a):
    url = page_url(merchant_a, shipment_a)
    assert client.get(url).status_code == 200

    tracking_links_revoke(order=shipment_a.order)

    assert client.get(url).status_code == 404
