"""The email layout rendered and inlined once per merchant and language gives the same document
as rendering and inlining it whole for every message."""

from __future__ import annotations

import dataclasses

import pytest
from django.utils.safestring import mark_safe

from notifications.domain import ItemLine
from notifications.rendering import (
    TEMPLATE_DIR,
    _default_blocks,
    _render_block,
    email_layout,
    email_layout_cached,
    plain_data,
    render_message,
    seal,
)
from notifications.services import NotificationRequest, RenderBatch, branding_of, template_data

pytestmark = pytest.mark.django_db

TRIGGERS = sorted(p.stem for p in (TEMPLATE_DIR / "notifications/messages/en").glob("*.txt"))
LINKS = [
    ("https://track.example/aurora/track/t/abc:def/", "https://track.example/u/xyz/"),
    ("https://t.example/a?b=1&c='2'\"\u00a0<x>", "https://u.example/?a=1&b=2"),  # escaping
    ("", ""),  # no tracking link (order confirmed), no unsubscribe link (a test send)
]


@pytest.fixture
def branded(merchant_a):  # type: ignore[no-untyped-def]
    merchant_a.primary_colour = "#aa3300"
    merchant_a.support_email = "help@aurora.example"
    merchant_a.support_url = "https://aurora.example/help"
    merchant_a.save()
    return merchant_a


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_layout_once_is_the_whole_document_for_every_default_template(
    branded, shopper, notice, trigger, language
):
    from django.utils import timezone

    # Shopper data that an HTML parser rewrites (entities, quotes, markup in a title).
    context = dataclasses.replace(
        notice,
        items=(ItemLine("Tote & <b>\"bag\"</b> 'x' https://slot.invalid/tracking-0c4e7a", 2),),
        reason="late & lost",
    )
    batch = RenderBatch(merchant=branded, rules=None, toggles={}, now=timezone.now())  # type: ignore[arg-type]
    batch.branding = branding_of(branded)
    request = NotificationRequest(
        trigger=trigger, recipient=shopper, context=context, event_id="e1"
    )
    base = plain_data(context, language=language, zone="America/New_York")
    data = template_data(batch, request, base, language)
    for tracking, unsubscribe in LINKS:
        data.update(tracking_url=tracking, unsubscribe_url=unsubscribe)
        sealed = {key: seal(value) for key, value in data.items()}
        fragment = mark_safe(  # noqa: S308 - rendered escaped
            _render_block(_default_blocks(trigger, language), "html", sealed, html=True)
        )
        whole = email_layout(fragment=fragment, data=sealed)
        assert email_layout_cached(fragment=fragment, data=sealed) == whole
        assert "slot.invalid/unsubscribe" not in whole
    assert "#aa3300" in whole  # the merchant's colour is inlined


def test_a_merchants_colour_change_is_a_new_layout(branded, shopper, notice):
    data = {
        "language": "en",
        "merchant": branding_of(branded),
        "shopper": {"name": "Alice Ng", "first_name": "Alice"},
        "tracking_url": "https://t.example/1",
        "unsubscribe_url": "",
    }
    first = render_message(trigger="delivered", channel="email", language="en", data=data)
    branded.primary_colour = "#00aa33"
    second = render_message(
        trigger="delivered",
        channel="email",
        language="en",
        data={**data, "merchant": branding_of(branded)},
    )
    assert "#aa3300" in first.html
    assert "#aa3300" not in second.html
    assert "#00aa33" in second.html
