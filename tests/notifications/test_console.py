"""Console screens: templates with preview and test send, the message ledger, all tenant-scoped."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core import mail

from notifications.models import Channel, Message, TemplateOverride
from postpurchase.models import MerchantMembership, MerchantRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_a(merchant_a) -> User:  # type: ignore[no-untyped-def]
    user = User.objects.create_user("olivia", "olivia@aurora.example", "pw", is_staff=True)
    MerchantMembership.objects.create(merchant=merchant_a, user=user, role=MerchantRole.OWNER)
    return user


@pytest.fixture
def override_a(merchant_a) -> TemplateOverride:  # type: ignore[no-untyped-def]
    return TemplateOverride.objects.create(
        merchant=merchant_a,
        trigger="delayed",
        channel=Channel.EMAIL,
        language="en",
        subject="Sorry {{ shopper.first_name }}",
        body_text="New window {{ estimate_start }}",
        body_html="<p>New window <b>{{ estimate_start }}</b></p>",
    )


@pytest.fixture
def override_b(merchant_b) -> TemplateOverride:  # type: ignore[no-untyped-def]
    return TemplateOverride.objects.create(
        merchant=merchant_b,
        trigger="delayed",
        channel=Channel.EMAIL,
        language="ja",
        subject="B",
        body_text="B",
    )


def test_preview_shows_html_and_text_in_both_languages(client, owner_a, override_a):
    client.force_login(owner_a)
    response = client.get(f"/console/notifications/templateoverride/{override_a.pk}/preview/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Sorry Alice" in body  # this template, sample data
    assert "New window" in body
    assert "お届けが遅れています" in body  # Japanese from the platform default
    assert body.count("<iframe") == 2


def test_send_a_test_to_me(client, owner_a, override_a):
    client.force_login(owner_a)
    response = client.post(f"/console/notifications/templateoverride/{override_a.pk}/send-test/")
    assert response.status_code == 302
    (email,) = mail.outbox
    assert email.to == ["olivia@aurora.example"]
    assert email.subject == "[TEST] Sorry Alice"
    assert Message.objects.get().is_test


def test_another_merchants_template_is_a_404(client, owner_a, override_b):
    client.force_login(owner_a)
    for suffix in ("change/", "preview/", "send-test/"):
        url = f"/console/notifications/templateoverride/{override_b.pk}/{suffix}"
        response = client.post(url) if suffix == "send-test/" else client.get(url)
        assert response.status_code == 404, suffix
    assert mail.outbox == []


def test_a_template_with_a_forbidden_tag_is_refused_with_the_reason(client, owner_a, merchant_a):
    client.force_login(owner_a)
    response = client.post(
        "/console/notifications/templateoverride/add/",
        {
            "merchant": merchant_a.pk,
            "trigger": "shipped",
            "channel": "email",
            "language": "en",
            "subject": "Hi",
            "body_text": "{% debug %}",
            "body_html": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "cannot be used" in response.content.decode()
    assert not TemplateOverride.objects.exists()


def test_message_ledger_lists_by_order_for_own_merchant_only(
    client,
    owner_a,
    merchant_a,
    merchant_b,
    shopper,
    notice,
    daytime,
    django_capture_on_commit_callbacks,
):
    from notifications.services import notification_enqueue

    with django_capture_on_commit_callbacks(execute=True):
        for merchant in (merchant_a, merchant_b):
            notification_enqueue(
                merchant=merchant,
                trigger="shipped",
                recipient=shopper,
                context=notice,
                event_id="e1",
                order_ref="1001",
            )
    client.force_login(owner_a)
    response = client.get("/console/notifications/message/?order_ref=1001")
    assert response.status_code == 200
    mine = Message.objects.filter(merchant=merchant_a)
    theirs = Message.objects.filter(merchant=merchant_b)
    body = response.content.decode()
    for message in mine:
        assert f"/console/notifications/message/{message.pk}/change/" in body
    for message in theirs:
        assert f"/console/notifications/message/{message.pk}/change/" not in body
    other = theirs.first()
    assert client.get(f"/console/notifications/message/{other.pk}/change/").status_code == 404
    detail = client.get(f"/console/notifications/message/{mine.first().pk}/change/")
    assert detail.status_code == 200
    assert "queued" in detail.content.decode().lower()
