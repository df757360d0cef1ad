"""The tracking page in headless Chromium: lookup -> page in English and Japanese, on a phone and
a desktop viewport, checked with axe-core (bundled in tests/trackpage/vendor) for serious or
critical violations. Screenshots go to artifacts/screenshots/ (kept by CI as artifacts).
"""

from __future__ import annotations

import json

import pytest

from tests.browser_support import (
    LOCALES,
    SCREENSHOTS,
    VIEWPORTS,
    serious_violations,
    watch_outside_requests,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED = {
    "en": {"heading": "Order 1001", "status": "On its way", "history": "Tracking history"},
    "ja": {"heading": "ご注文 1001", "status": "お届け中です", "history": "追跡履歴"},
}


@pytest.fixture
def seeded(shipment_a):  # type: ignore[no-untyped-def]
    """Data is written before the browser starts (Playwright runs an event loop)."""
    from trackpage.models import MerchantPageBlock

    MerchantPageBlock.objects.create(
        merchant=shipment_a.merchant,
        title="Winter sale",
        html="<p>20% off <strong>all socks</strong> this week.</p>",
        link_url="https://www.aurora.example/sale",
        link_label="See the sale",
    )
    return shipment_a


@pytest.mark.parametrize("device", ["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "ja"])
def test_lookup_to_page_is_accessible(live_server, seeded, browser, language, device):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[device], locale=LOCALES[language])
    page = context.new_page()
    outside = watch_outside_requests(page, live_server.url)
    try:
        page.goto(f"{live_server.url}/aurora/track/")
        assert page.locator("html").get_attribute("lang") == language
        lookup_problems = serious_violations(page)
        page.screenshot(path=str(SCREENSHOTS / f"lookup-{language}-{device}.png"), full_page=True)

        page.fill("[name=order-order_number]", "1001")
        page.fill("[name=order-contact]", "alice.ng@example.com")
        page.locator("form:has(input[value=order]) button[type=submit]").click()
        page.wait_for_url("**/aurora/track/t/**")

        expected = EXPECTED[language]
        assert page.locator("h1").inner_text() == expected["heading"]
        assert expected["status"] in page.locator(".shipment__status").inner_text()
        assert expected["history"] in page.content()
        events = page.locator(".timeline__event time")
        assert events.count() == 3
        # Newest first.
        stamps = [events.nth(i).get_attribute("datetime") for i in range(3)]
        assert stamps == sorted(stamps, reverse=True)
        page_problems = serious_violations(page)
        page.screenshot(path=str(SCREENSHOTS / f"page-{language}-{device}.png"), full_page=True)
    finally:
        context.close()

    assert lookup_problems == [], json.dumps(lookup_problems, indent=1)
    assert page_problems == [], json.dumps(page_problems, indent=1)
    assert outside == []  # no CDN, font service or anything else off the app


def test_page_refreshes_itself_when_the_parcel_moves(
    live_server, seeded, browser, settings, monkeypatch
):
    from django.db import connection

    from tests.trackpage.conftest import add_events, page_url

    settings.TRACKPAGE_REFRESH_SECONDS = 1
    # The test writes to the database while Playwright's event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    url = live_server.url + page_url(seeded.merchant, seeded)
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="en-US")
    page = context.new_page()
    try:
        page.goto(url)
        assert page.locator(".shipment__status").inner_text() == "On its way"
        add_events(seeded, 1, status="out_for_delivery")
        seeded.status = "out_for_delivery"
        seeded.save()
        # Written from inside Playwright's loop: close this context's connection, or it outlives
        # the test and blocks dropping the test database on PostgreSQL.
        connection.close()
        # No reload: htmx polls the live fragment and swaps it in.
        headline = "document.querySelector('.shipment__status').innerText"
        page.wait_for_function(f"() => {headline} === 'Out for delivery today'", timeout=10_000)
        assert page.locator(".timeline__event").count() == 4
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    finally:
        context.close()


@pytest.fixture
def delivered(shipment_a):  # type: ignore[no-untyped-def]
    from tests.trackpage.conftest import add_events

    add_events(shipment_a, 1, status="delivered")
    shipment_a.status = "delivered"
    shipment_a.save()
    return shipment_a


def test_one_tap_rating_after_delivery_is_accessible(live_server, delivered, browser):
    from tests.trackpage.conftest import page_url

    url = live_server.url + page_url(delivered.merchant, delivered)
    context = browser.new_context(viewport=VIEWPORTS["phone"], locale="ja-JP")
    page = context.new_page()
    try:
        page.goto(url)
        assert "配達はいかがでしたか" in page.locator("#rating-title").inner_text()
        problems = serious_violations(page)
        page.fill(".rating textarea", "玄関前に置いてありました")
        page.locator(".star[value='5']").click()
        page.wait_for_url("**rated=**")
        assert "評価ありがとうございました" in page.content()
        page.screenshot(path=str(SCREENSHOTS / "rated-ja-phone.png"), full_page=True)
    finally:
        context.close()

    assert problems == [], json.dumps(problems, indent=1)
