"""Web push through the real pywebpush client, the push service recorded with `responses`."""

from __future__ import annotations

import base64
import json

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from py_vapid import b64urlencode

from notifications.models import Channel, Message, MessageStatus, PushSubscription, TriggerToggle
from notifications.services import notification_enqueue
from notifications.tokens import push_token

pytestmark = pytest.mark.django_db

ENDPOINT = "https://push.example/send/abc123"


def _browser_keys() -> tuple[str, str]:
    """A browser's subscription keys: a P-256 public key and a 16-byte auth secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(public), b64urlencode(b"0123456789abcdef")


@pytest.fixture(autouse=True)
def _vapid(settings, merchant_a, capsys):  # type: ignore[no-untyped-def]
    call_command("generate_vapid_keys")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
    settings.VAPID_PUBLIC_KEY = lines["VAPID_PUBLIC_KEY"]
    settings.VAPID_PRIVATE_KEY = lines["VAPID_PRIVATE_KEY"]
    settings.NOTIFICATIONS_CHANNELS = {
        **settings.NOTIFICATIONS_CHANNELS,
        "push": "notifications.channels.push.WebPushChannel",
    }
    for channel in (Channel.EMAIL, Channel.SMS):
        TriggerToggle.objects.create(
            merchant=merchant_a, trigger="delivered", channel=channel, enabled=False
        )


def _subscribe(client, merchant, order_ref="1001"):  # type: ignore[no-untyped-def]
    p256dh, auth = _browser_keys()
    token = push_token(merchant_slug=merchant.slug, order_ref=order_ref, customer_ref="cust-1")
    return client.post(
        f"/notifications/{merchant.slug}/push/subscribe/",
        data=json.dumps(
            {
                "subscription": {"endpoint": ENDPOINT, "keys": {"p256dh": p256dh, "auth": auth}},
                "token": token,
            }
        ),
        content_type="application/json",
    )


def _deliver(merchant, shopper, notice, capture, event_id="e1"):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return notification_enqueue(
            merchant=merchant,
            trigger="delivered",
            recipient=shopper,
            context=notice,
            event_id=event_id,
            order_ref="1001",
        )


@responses.activate
def test_push_is_encrypted_and_signed_for_the_subscribed_browser(
    client, merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    assert _subscribe(client, merchant_a).status_code == 201
    responses.post(ENDPOINT, status=201, headers={"Location": f"{ENDPOINT}/msg/1"})
    (message,) = _deliver(merchant_a, shopper, notice, django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == f"{ENDPOINT}/msg/1"
    request = responses.calls[0].request
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["Authorization"].startswith("vapid t=")
    assert "k=" in request.headers["Authorization"]
    # The payload is encrypted for the browser: the shopper's text is not readable on the wire.
    assert b"delivered" not in request.body
    assert int(request.headers["TTL"]) > 0


@responses.activate
def test_push_410_deletes_the_subscription(
    client, merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    assert _subscribe(client, merchant_a).status_code == 201
    responses.post(ENDPOINT, status=410, body="gone")
    (message,) = _deliver(merchant_a, shopper, notice, django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "gone" in message.status_reason
    assert not PushSubscription.objects.exists()
    # Nothing left to send to for the next event.
    assert _deliver(merchant_a, shopper, notice, django_capture_on_commit_callbacks, "e2") == []


def test_subscribe_endpoint_refuses_bad_tokens_and_plain_http(client, merchant_a, merchant_b):
    p256dh, auth = _browser_keys()
    other = push_token(merchant_slug=merchant_b.slug, order_ref="1001", customer_ref="")
    bad_token = client.post(
        f"/notifications/{merchant_a.slug}/push/subscribe/",
        data=json.dumps(
            {
                "subscription": {"endpoint": ENDPOINT, "keys": {"p256dh": p256dh, "auth": auth}},
                "token": other,
            }
        ),
        content_type="application/json",
    )
    assert bad_token.status_code == 400
    assert bad_token.json()["error"]["code"] == "invalid_token"
    token = push_token(merchant_slug=merchant_a.slug, order_ref="1001", customer_ref="")
    insecure = client.post(
        f"/notifications/{merchant_a.slug}/push/subscribe/",
        data=json.dumps(
            {
                "subscription": {
                    "endpoint": "http://push.example/x",
                    "keys": {"p256dh": p256dh, "auth": auth},
                },
                "token": token,
            }
        ),
        content_type="application/json",
    )
    assert insecure.status_code == 400
    assert insecure.json()["error"]["field"] == "endpoint"
    garbage = client.post(
        f"/notifications/{merchant_a.slug}/push/subscribe/",
        data=b"{",
        content_type="application/json",
    )
    assert garbage.status_code == 400
    assert not PushSubscription.objects.exists()
    assert (
        base64.urlsafe_b64decode(p256dh + "==")[0] == 4
    )  # an uncompressed point, as browsers send
    assert Message.objects.count() == 0
