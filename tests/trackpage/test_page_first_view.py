"""A link's first view in the minute keeps its head in the page's one Lua command, and the page's
CSRF token is Django's format from a cheaper draw."""

from __future__ import annotations

from collections import Counter

import pytest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, _unmask_cipher_token
from django.test import RequestFactory

from tests.trackpage.conftest import page_url
from trackpage import csrf_tokens, selectors, services, shared_cache
from trackpage.models import PageView
from trackpage.services import page_views_flush, tracking_links_revoke

pytestmark = pytest.mark.django_db


def _commands(monkeypatch):  # type: ignore[no-untyped-def]
    """The names of the commands this process's Redis client sends from now on."""
    found = shared_cache.shared()
    assert found is not None
    client = found[1]
    sent: list[str] = []
    send = client.execute_command

    def counting(*args, **options):  # type: ignore[no-untyped-def]
        sent.append(str(args[0]))
        return send(*args, **options)

    monkeypatch.setattr(client, "execute_command", counting)
    return sent


def _forget_head(shipment) -> None:  # type: ignore[no-untyped-def]
    services.page_heads_forget(merchant_id=shipment.merchant_id, order_ids=[shipment.order_id])


@pytest.mark.redis_cache
def test_a_first_view_reads_and_keeps_its_head_in_two_redis_commands(
    client, merchant_a, shipment_a, monkeypatch, django_assert_num_queries
):
    url = page_url(merchant_a, shipment_a)
    for _ in range(2):  # the page is stored; Redis has the scripts of a first and a repeat view
        client.get(url)
        _forget_head(shipment_a)
    sent = _commands(monkeypatch)

    with django_assert_num_queries(1):  # the head
        assert client.get(url).status_code == 200

    # The head and its tag; then the kept head, the view count, the page and blocks at once.
    assert sent == ["MGET", "EVALSHA"]
    sent.clear()
    with django_assert_num_queries(0):  # the head that view kept
        assert client.get(url).status_code == 200
    assert sent == ["MGET", "EVALSHA"]
    page_views_flush()
    assert PageView.objects.get(order=shipment_a.order).views == 4


@pytest.mark.redis_cache
def test_a_revoked_links_head_is_kept_and_it_stays_refused(
    client, merchant_a, shipment_a, django_assert_num_queries
):
    url = page_url(merchant_a, shipment_a)
    tracking_links_revoke(order=shipment_a.order)

    assert client.get(url).status_code == 404
    with django_assert_num_queries(0):
        assert client.get(url).status_code == 404


@pytest.mark.redis_cache
def test_parts_of_one_lua_command_each_number_their_own_keys_and_arguments():
    def part(key: str, value: str):  # type: ignore[no-untyped-def]
        def also(make_key):  # type: ignore[no-untyped-def]
            return "redis.call('SET', KEYS[1], ARGV[1])", [make_key(key)], [value]

        return also

    both = shared_cache.combined(part("test:one", "1"), part("test:two", "2"))

    assert shared_cache.get_many_with(["test:absent"], both) == {}
    found = shared_cache.shared()
    assert found is not None
    backend, client = found
    assert client.mget([backend.make_key("test:one"), backend.make_key("test:two")]) == [
        b"1",
        b"2",
    ]


@pytest.mark.redis_cache
def test_a_head_kept_by_the_lua_command_reads_back_as_the_head(merchant_a, shipment_a):
    from trackpage.links import page_token_read

    token = page_url(merchant_a, shipment_a).rstrip("/").rsplit("/", 1)[1]
    ref = page_token_read(merchant_slug=merchant_a.slug, token=token)
    _forget_head(shipment_a)
    head, keep = selectors.page_head_kept(merchant=merchant_a, ref=ref)
    assert keep is not None
    shared_cache.get_many_with(["test:absent"], keep.script)

    assert selectors.page_head_kept(merchant=merchant_a, ref=ref) == (head, None)


def test_the_csrf_token_is_djangos_format_and_unmasks_to_the_cookies_secret():
    request = RequestFactory().get("/")
    first = csrf_tokens.get_token(request)
    secret = request.META["CSRF_COOKIE"]

    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert len(first) == 64
    assert set(first) <= set(CSRF_ALLOWED_CHARS)
    assert len(secret) == 32
    assert _unmask_cipher_token(first) == secret
    second = csrf_tokens.get_token(request)  # the same secret, a new mask
    assert second != first
    assert _unmask_cipher_token(second) == secret


def test_the_csrf_alphabet_is_drawn_evenly():
    counts = Counter(csrf_tokens.random_string(62_000))

    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    # 1,000 expected each; a biased modulo (256 % 62) would give the first 8 ≈ 1,250.
    assert max(counts.values()) < 1_200
    assert min(counts.values()) > 800
