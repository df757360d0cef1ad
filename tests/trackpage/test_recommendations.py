"""Recommendations: bought together, else category best sellers; never bought or sold out."""

from __future__ import annotations

import pytest

from commerce.stats import purchase_stats_refresh
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ProductFactory
from tests.trackpage.conftest import page_url
from trackpage.selectors import recommendations

pytestmark = pytest.mark.django_db


def _product(merchant, title, category="Socks", **kwargs):  # type: ignore[no-untyped-def]
    slug = title.lower().replace(" ", "-")
    return ProductFactory(
        merchant=merchant,
        title=title,
        category=category,
        url=f"https://www.aurora.example/p/{slug}",
        **kwargs,
    )


def _order_with(merchant, *products, customer=None):  # type: ignore[no-untyped-def]
    order = OrderFactory(merchant=merchant, **({"customer": customer} if customer else {}))
    for product in products:
        OrderLineFactory(order=order, product=product, quantity=1)
    return order


def test_bought_together_first_never_bought_or_out_of_stock(merchant_a, merchant_b):
    sock, hat, scarf, gloves, boots = (
        _product(merchant_a, name) for name in ("Sock", "Hat", "Scarf", "Gloves", "Boots")
    )
    sold_out = _product(merchant_a, "Sold out beanie", in_stock=False)
    shopper = CustomerFactory(merchant=merchant_a)
    _order_with(merchant_a, sock, hat)
    _order_with(merchant_a, sock, hat)
    _order_with(merchant_a, sock, scarf)
    _order_with(merchant_a, sock, sold_out)
    _order_with(merchant_a, sock, boots)
    _order_with(merchant_a, boots, customer=shopper)  # the shopper already has boots
    _order_with(merchant_a, gloves)  # sold, but never with socks
    # Another merchant's shoppers buy socks with gloves a lot: irrelevant here.
    other_sock = _product(merchant_b, "Sock")
    for _ in range(3):
        _order_with(merchant_b, other_sock, _product(merchant_b, f"Other {_}"))

    order = _order_with(merchant_a, sock, customer=shopper)
    purchase_stats_refresh()  # factories write no events: the statistics are caught up here
    titles = [r.title for r in recommendations(order=order)]

    assert titles[:2] == ["Hat", "Scarf"]
    assert "Boots" not in titles
    assert "Sold out beanie" not in titles
    assert "Sock" not in titles
    assert not any(t.startswith("Other") for t in titles)
    assert titles[2:] == ["Gloves"]  # topped up from the category's best sellers


def test_falls_back_to_best_sellers_of_the_category(merchant_a):
    lonely = _product(merchant_a, "Lonely sock")
    popular = _product(merchant_a, "Popular sock")
    runner_up = _product(merchant_a, "Runner-up sock")
    _product(merchant_a, "Mug", category="Kitchen")
    for _ in range(3):
        _order_with(merchant_a, popular)
    _order_with(merchant_a, runner_up)
    _order_with(merchant_a, _product(merchant_a, "Kettle", category="Kitchen"))

    order = _order_with(merchant_a, lonely)
    purchase_stats_refresh()

    assert [r.title for r in recommendations(order=order)] == ["Popular sock", "Runner-up sock"]


def test_recommendations_link_through_the_redirect(client, merchant_a, shipment_a):
    hat = _product(merchant_a, "Hat")
    _order_with(merchant_a, shipment_a.order.lines.get().product, hat)
    purchase_stats_refresh()

    body = client.get(page_url(merchant_a, shipment_a)).content.decode()

    section = body.split('id="recs-title"')[1]
    assert "Hat" in section
    assert "/aurora/track/go/" in section
    assert "https://www.aurora.example/p/hat" not in section
