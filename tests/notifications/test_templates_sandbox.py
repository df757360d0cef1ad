"""Merchant templates render from plain data only: nothing reaches a model, the DB or settings."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core import mail

from notifications.models import Channel, TemplateOverride, TriggerToggle
from notifications.previews import message_send_test, template_preview
from notifications.rendering import TemplateSource, plain_data, render_message, template_validate
from notifications.services import notification_enqueue
from postpurchase.errors import DomainError
from postpurchase.models import Merchant

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "source",
    [
        "{% debug %}",
        "{% load static %}{% static 'x.css' %}",
        "{% include 'notifications/email/layout.html' %}",
        "{% extends 'notifications/email/layout.html' %}",
        "{% url 'notifications:push-key' %}",
        "{% csrf_token %}",
        "{{ shopper.name|safe }}",
        "{{ items|pprint }}",
        "{% if %}",
        "{{ merchant.__class__ }}",
        "{{ shopper.__dict__ }}",
    ],
)
def test_forbidden_tags_and_filters_are_refused_with_a_clear_message(source):
    with pytest.raises(DomainError) as refused:
        template_validate(source)
    assert refused.value.code == "template_invalid"
    assert "cannot be used" in refused.value.message


def test_attribute_and_method_probes_render_nothing(merchant_a):
    probe = TemplateSource(
        subject="{{ merchant.pk }}{{ merchant.delete }}{{ merchant.objects }}",
        body_text=(
            "[{{ merchant.items }}][{{ shopper.keys }}][{{ merchant.save }}]"
            "[{{ merchant.memberships.all }}][{{ settings.SECRET_KEY }}][{{ request.user }}]"
            "[{{ items.0.title }}]"
        ),
        body_html="<p>{{ shopper.name }}</p>",
    )
    rendered = template_preview(
        merchant=merchant_a, trigger="shipped", channel="email", language="en", override=probe
    )
    assert rendered.subject == ""
    assert rendered.text == "[][][][][][][Merino crew sock]"
    assert "Alice Ng" in rendered.html


def test_shopper_data_is_escaped_in_html_but_not_in_text(merchant_a):
    @dataclass(frozen=True)
    class Context:
        order_number: str

    data = plain_data(Context(order_number="<script>alert(1)</script>"), language="en", zone="UTC")
    rendered = render_message(
        trigger="order_confirmed",
        channel="email",
        language="en",
        data={**data, "merchant": {"name": "M"}, "shopper": {"name": "A & B"}},
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text
    assert rendered.subject == "A & B, we've got your order <script>alert(1)</script>"


def test_a_model_in_the_context_is_refused(merchant_a, shopper):
    @dataclass(frozen=True)
    class Leaky:
        order_number: str
        merchant: Merchant

    with pytest.raises(DomainError) as refused:
        notification_enqueue(
            merchant=merchant_a,
            trigger="shipped",
            recipient=shopper,
            context=Leaky(order_number="1", merchant=merchant_a),
            event_id="e",
        )
    assert refused.value.code == "context_not_plain"
    assert "context.merchant" in refused.value.message


def test_preview_renders_both_languages_with_sample_data(merchant_a):
    for trigger in (
        "order_confirmed",
        "shipped",
        "arriving_tomorrow",
        "out_for_delivery",
        "delayed",
        "stalled",
        "attempt_failed",
        "available_for_pickup",
        "exception",
        "delivered",
    ):
        for channel in ("email", "sms", "push"):
            en = template_preview(
                merchant=merchant_a, trigger=trigger, channel=channel, language="en"
            )
            ja = template_preview(
                merchant=merchant_a, trigger=trigger, channel=channel, language="ja"
            )
            assert en.text, (trigger, channel)
            assert ja.text, (trigger, channel)
            assert en.text != ja.text
            if channel != "sms":
                assert en.subject, (trigger, channel)
                assert ja.subject, (trigger, channel)
            if channel == "email":
                assert "<html" in en.html
                assert "Aurora Outfitters" in en.html
    exception = template_preview(
        merchant=merchant_a, trigger="exception", channel="email", language="en"
    )
    assert "could not find the delivery address" in exception.text  # what the shopper must do
    delayed_ja = template_preview(
        merchant=merchant_a, trigger="delayed", channel="sms", language="ja"
    )
    assert "新しい予定" in delayed_ja.text


def test_merchant_override_is_used_for_its_language_only(
    merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    TemplateOverride.objects.create(
        merchant=merchant_a,
        trigger="shipped",
        channel=Channel.EMAIL,
        language="en",
        subject="{{ shopper.first_name }}: {{ product }} left our warehouse",
        body_text="Order {{ order_number }} via {{ carrier|upper }}. {{ tracking_url }}",
        body_html="<p>Order <b>{{ order_number }}</b></p>",
    )
    TriggerToggle.objects.create(
        merchant=merchant_a, trigger="shipped", channel=Channel.PUSH, enabled=False
    )
    japanese = type(shopper)(**{**shopper.__dict__, "email": "hanako@example.jp", "language": "ja"})
    with django_capture_on_commit_callbacks(execute=True):
        notification_enqueue(
            merchant=merchant_a, trigger="shipped", recipient=shopper, context=notice, event_id="1"
        )
        notification_enqueue(
            merchant=merchant_a, trigger="shipped", recipient=japanese, context=notice, event_id="1"
        )
    by_to = {m.to[0]: m for m in mail.outbox}
    assert by_to["alice@example.com"].subject == "Alice: Merino crew sock left our warehouse"
    assert by_to["alice@example.com"].body.startswith("Order 1001 via UPS. https://track.example/")
    assert "を発送しました" in by_to["hanako@example.jp"].subject


def test_send_a_test_to_me_goes_out_now_and_is_marked_as_a_test(merchant_a):
    message = message_send_test(
        merchant=merchant_a,
        trigger="delayed",
        channel="email",
        language="ja",
        to_address="staff@aurora.example",
    )
    assert message.is_test
    assert message.status == "sent"
    (email,) = mail.outbox
    assert email.to == ["staff@aurora.example"]
    assert email.subject.startswith("[TEST] ")
    assert "お届けが遅れています" in email.subject
    with pytest.raises(DomainError):
        message_send_test(
            merchant=merchant_a, trigger="delayed", channel="email", language="en", to_address=""
        )
