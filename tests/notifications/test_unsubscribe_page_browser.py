"""The unsubscribe pages a shopper reaches from an email, in headless Chromium: English and
Japanese (from the browser's language here; a link from an email carries the email's), phone and
desktop, axe-core clean, nothing loaded from outside the app, and the form unsubscribes."""

from __future__ import annotations

import json

import pytest

from notifications.tokens import unsubscribe_token, unsubscribe_url
from tests.browser_support import (
    LOCALES,
    SCREENSHOTS,
    VIEWPORTS,
    serious_violations,
    watch_outside_requests,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXPECTED = {
    "en": {"confirm": "Stop messages from Aurora Outfitters?", "done": "You're unsubscribed"},
    "ja": {
        "confirm": "Aurora Outfitters からのメッセージを停止しますか?",
        "done": "配信を停止しました",
    },
}


@pytest.mark.parametrize("device", ["phone", "desktop"])
@pytest.mark.parametrize("language", ["en", "ja"])
def test_unsubscribe_pages_are_localised_and_accessible(
    live_server, merchant_a, browser, language, device
):
    token = unsubscribe_token(
        merchant_id=merchant_a.pk,
        channel="email",
        address="alice@example.com",
        purpose="marketing",
        message_key="k1",
    )
    path = unsubscribe_url(token).split("/notifications/", 1)[1]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[device], locale=LOCALES[language])
    page = context.new_page()
    outside = watch_outside_requests(page, live_server.url)
    try:
        page.goto(f"{live_server.url}/notifications/{path}")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("h1").inner_text() == EXPECTED[language]["confirm"]
        confirm_problems = serious_violations(page)
        page.screenshot(
            path=str(SCREENSHOTS / f"unsubscribe-{language}-{device}.png"), full_page=True
        )
        page.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == EXPECTED[language]["done"]
        done_problems = serious_violations(page)
    finally:
        context.close()

    assert confirm_problems == [], json.dumps(confirm_problems, indent=1)
    assert done_problems == [], json.dumps(done_problems, indent=1)
    assert outside == []
    # The consent record the POST writes is checked without a browser in
    # test_esp_events_and_unsubscribe.py (Playwright's loop forbids the ORM here).
