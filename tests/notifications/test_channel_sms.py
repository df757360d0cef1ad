"""SMS through the real twilio client, its HTTP recorded with `responses`."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
import time_machine
from django.utils import timezone

from notifications.models import (
    Channel,
    ConsentRecord,
    DueSend,
    Message,
    MessageStatus,
    TriggerToggle,
)
from notifications.sending import due_sends_release
from notifications.services import notification_enqueue

pytestmark = pytest.mark.django_db

SID = "AC" + "0" * 32
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"


@pytest.fixture(autouse=True)
def _twilio(settings, merchant_a):  # type: ignore[no-untyped-def]
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = "twilio-test-token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.NOTIFICATIONS_CHANNELS = {
        **settings.NOTIFICATIONS_CHANNELS,
        "sms": "notifications.channels.sms.TwilioSmsChannel",
    }
    # Only SMS for these tests.
    TriggerToggle.objects.create(
        merchant=merchant_a, trigger="out_for_delivery", channel=Channel.EMAIL, enabled=False
    )


def _accepted(sid: str = "SM" + "1" * 32) -> dict[str, object]:
    return {"sid": sid, "status": "queued", "to": "+14155550123", "from": "+15005550006"}


def _send(merchant, shopper, notice, event_id, capture):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return notification_enqueue(
            merchant=merchant,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id=event_id,
        )


@responses.activate
def test_sms_goes_through_twilio_with_the_rendered_body(
    merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    responses.post(MESSAGES_URL, json=_accepted(), status=201)
    (message,) = _send(merchant_a, shopper, notice, "e1", django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider == "twilio"
    assert message.provider_message_id == "SM" + "1" * 32
    form = parse_qs(responses.calls[0].request.body)
    assert form["To"] == ["+14155550123"]
    assert form["From"] == ["+15005550006"]
    assert "order 1001 is out for delivery today" in form["Body"][0]
    assert "https://track.example/aurora/track/t/" in form["Body"][0]


@responses.activate
def test_twilio_21610_marks_the_number_opted_out(
    merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    responses.post(
        MESSAGES_URL,
        status=400,
        json={
            "code": 21610,
            "message": "Attempt to send to unsubscribed recipient",
            "more_info": "https://www.twilio.com/docs/errors/21610",
            "status": 400,
        },
    )
    (message,) = _send(merchant_a, shopper, notice, "e1", django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "opted out" in message.status_reason
    withdrawn = ConsentRecord.objects.filter(
        merchant=merchant_a, channel=Channel.SMS, address="+14155550123", granted=False
    )
    assert set(withdrawn.values_list("purpose", flat=True)) == {"transactional", "marketing"}
    assert set(withdrawn.values_list("source", flat=True)) == {"provider_opt_out"}

    # The next message to that number is suppressed without calling Twilio.
    (second,) = _send(merchant_a, shopper, notice, "e2", django_capture_on_commit_callbacks)
    assert second.status == MessageStatus.SUPPRESSED
    assert len(responses.calls) == 1


@responses.activate
def test_twilio_429_holds_the_message_at_least_retry_after_then_sends(
    merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    responses.post(
        MESSAGES_URL,
        status=429,
        headers={"Retry-After": "600"},
        json={"code": 20429, "message": "Too Many Requests", "status": 429},
    )
    started = timezone.now()
    (message,) = _send(merchant_a, shopper, notice, "e1", django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == MessageStatus.HELD
    due = DueSend.objects.get(message=message).due_at
    assert due >= started + timedelta(seconds=600)

    with django_capture_on_commit_callbacks(execute=True):
        assert due_sends_release() == []  # not due yet
    responses.replace(responses.POST, MESSAGES_URL, json=_accepted("SM" + "2" * 32), status=201)
    with (
        time_machine.travel(due + timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert due_sends_release() == [message.pk]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 2
    assert len(responses.calls) == 2
    events = list(message.events.values_list("type", flat=True))
    assert events == ["queued", "retry", "released", "sent"]


@responses.activate
def test_twilio_permanent_error_is_recorded_and_not_retried(
    merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    responses.post(
        MESSAGES_URL,
        status=400,
        json={"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400},
    )
    (message,) = _send(merchant_a, shopper, notice, "e1", django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "21211" in message.status_reason
    assert not DueSend.objects.exists()
    assert json.loads(responses.calls[0].response.text)["code"] == 21211
    assert Message.objects.count() == 1


@responses.activate
def test_status_callback_records_delivery_once(
    client, settings, merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    from twilio.request_validator import RequestValidator

    settings.TWILIO_STATUS_CALLBACK_URL = (
        "https://track.example/notifications/{merchant}/twilio/status/"
    )
    responses.post(MESSAGES_URL, json=_accepted(), status=201)
    (message,) = _send(merchant_a, shopper, notice, "e1", django_capture_on_commit_callbacks)
    form = parse_qs(responses.calls[0].request.body)
    path = "/notifications/aurora/twilio/status/"
    assert form["StatusCallback"] == [f"https://track.example{path}"]

    params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "To": "+14155550123"}
    signature = RequestValidator("twilio-test-token").compute_signature(
        f"https://track.example{path}", params
    )
    assert client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE="bad").status_code == 403
    for _ in range(2):
        assert client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert list(message.events.values_list("type", flat=True)) == ["queued", "sent", "delivered"]
