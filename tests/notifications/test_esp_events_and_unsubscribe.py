"""ESP tracking webhooks (anymail's Postmark endpoint) and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlparse

import pytest
from django.core import mail

from notifications.models import (
    Channel,
    ConsentRecord,
    Message,
    MessageStatus,
    Suppression,
    TriggerToggle,
)
from notifications.services import notification_enqueue

pytestmark = pytest.mark.django_db

WEBHOOK_AUTH = "anymail:webhook-secret"


@pytest.fixture(autouse=True)
def _email_only(settings, merchant_a):  # type: ignore[no-untyped-def]
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_AUTH}
    for channel in (Channel.SMS, Channel.PUSH):
        TriggerToggle.objects.create(
            merchant=merchant_a, trigger="delivered", channel=channel, enabled=False
        )


@pytest.fixture
def sent_email(merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = notification_enqueue(
            merchant=merchant_a,
            trigger="delivered",
            recipient=shopper,
            context=notice,
            event_id="e1",
        )
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    return message


def _postmark(client, payload):  # type: ignore[no-untyped-def]
    auth = base64.b64encode(WEBHOOK_AUTH.encode()).decode()
    return client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def test_bounce_suppresses_the_address_and_a_retry_of_the_webhook_does_nothing(
    client, merchant_a, merchant_b, sent_email, shopper, notice, django_capture_on_commit_callbacks
):
    bounce = {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": "00000000-0000-0000-0000-000000000001",
        "Email": "alice@example.com",
        "BouncedAt": "2026-11-24T15:01:00Z",
        "Description": "The server was unable to deliver your message",
        "Metadata": {"message_id": str(sent_email.pk)},
    }
    assert _postmark(client, bounce).status_code == 200
    assert _postmark(client, bounce).status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == MessageStatus.BOUNCED
    assert list(sent_email.events.values_list("type", flat=True)) == ["queued", "sent", "bounced"]
    assert Suppression.objects.get().merchant == merchant_a
    with django_capture_on_commit_callbacks(execute=True):
        (next_a,) = notification_enqueue(
            merchant=merchant_a,
            trigger="delivered",
            recipient=shopper,
            context=notice,
            event_id="e2",
        )
        (other_merchant,) = notification_enqueue(
            merchant=merchant_b,
            trigger="delivered",
            recipient=shopper,
            context=notice,
            event_id="e2",
        )
    assert next_a.status == MessageStatus.SUPPRESSED
    assert next_a.status_reason == "suppressed address (bounce)"
    assert Message.objects.get(pk=other_merchant.pk).status == MessageStatus.SENT


def test_complaint_withdraws_consent_and_suppresses(client, merchant_a, sent_email):
    complaint = {
        "RecordType": "SpamComplaint",
        "ID": 42,
        "Type": "SpamComplaint",
        "MessageID": "m-1",
        "Email": "alice@example.com",
        "BouncedAt": "2026-11-24T16:00:00Z",
        "Metadata": {"message_id": str(sent_email.pk)},
    }
    assert _postmark(client, complaint).status_code == 200
    assert Suppression.objects.get().reason == "complaint"
    withdrawn = ConsentRecord.objects.filter(address="alice@example.com", granted=False)
    assert set(withdrawn.values_list("source", flat=True)) == {"esp_complaint"}


def test_delivery_open_and_click_move_the_message_forward_only(client, sent_email):
    base = {
        "MessageID": "m-1",
        "Recipient": "alice@example.com",
        "Metadata": {"message_id": str(sent_email.pk)},
    }
    _postmark(client, {**base, "RecordType": "Open", "ReceivedAt": "2026-11-24T15:05:00Z"})
    _postmark(client, {**base, "RecordType": "Delivery", "DeliveredAt": "2026-11-24T15:02:00Z"})
    sent_email.refresh_from_db()
    assert sent_email.status == MessageStatus.OPENED  # a late "delivered" does not move it back
    _postmark(
        client,
        {
            **base,
            "RecordType": "Click",
            "ReceivedAt": "2026-11-24T15:06:00Z",
            "OriginalLink": "https://x",
        },
    )
    sent_email.refresh_from_db()
    assert sent_email.status == MessageStatus.CLICKED
    assert list(sent_email.events.values_list("type", flat=True)) == [
        "queued",
        "sent",
        "delivered",
        "opened",
        "clicked",
    ]


def test_webhook_without_the_secret_is_refused(client, sent_email):
    response = client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(
            {"RecordType": "Bounce", "Type": "HardBounce", "Email": "alice@example.com"}
        ),
        content_type="application/json",
    )
    assert response.status_code in (400, 401, 403)
    assert not Suppression.objects.exists()


def _unsubscribe_path(message: Message) -> str:
    url = message.headers["List-Unsubscribe"].strip("<>")
    return urlparse(url).path


def test_get_never_unsubscribes_it_shows_a_confirmation(client, sent_email):
    response = client.get(_unsubscribe_path(sent_email))
    assert response.status_code == 200
    assert b'method="post"' in response.content
    assert not ConsentRecord.objects.exists()


def test_one_click_post_unsubscribes_without_cookies_or_csrf(
    merchant_a, sent_email, shopper, notice, django_capture_on_commit_callbacks
):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        _unsubscribe_path(sent_email),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    record = ConsentRecord.objects.get()
    assert (record.address, record.purpose, record.granted, record.source) == (
        "alice@example.com",
        "transactional",
        False,
        "unsubscribe_link",
    )
    assert (
        strict.post(
            _unsubscribe_path(sent_email),
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        ).status_code
        == 200
    )
    assert ConsentRecord.objects.count() == 1  # the second click changes nothing
    assert "unsubscribed" in sent_email.events.values_list("type", flat=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        (later,) = notification_enqueue(
            merchant=merchant_a,
            trigger="delivered",
            recipient=shopper,
            context=notice,
            event_id="e9",
        )
    assert later.status == MessageStatus.SUPPRESSED
    assert mail.outbox == []


def test_tampered_unsubscribe_token_is_refused(client, sent_email):
    path = _unsubscribe_path(sent_email)
    tampered = path[:-6] + ("AAAAA/" if not path.endswith("AAAAA/") else "BBBBB/")
    assert client.post(tampered).status_code == 400
    assert not ConsentRecord.objects.exists()


def test_unsubscribe_page_answers_in_the_language_of_the_email(
    merchant_a, shopper, notice, daytime, client, django_capture_on_commit_callbacks
):
    """A Japanese email's link opens a Japanese page even from a browser set to English."""
    from dataclasses import replace

    with django_capture_on_commit_callbacks(execute=True):
        (message,) = notification_enqueue(
            merchant=merchant_a,
            trigger="delivered",
            recipient=replace(shopper, language="ja"),
            context=notice,
            event_id="e-ja",
        )
    message.refresh_from_db()
    assert message.language == "ja"
    response = client.get(_unsubscribe_path(message), HTTP_ACCEPT_LANGUAGE="en-US")
    assert response.status_code == 200
    assert '<html lang="ja">' in response.content.decode()
    assert "からのメッセージを停止しますか" in response.content.decode()
