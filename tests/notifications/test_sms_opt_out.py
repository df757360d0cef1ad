"""Inbound SMS keywords through the signed Twilio webhook, and a STOP racing a queued message."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from notifications.consent import consent_record
from notifications.models import (
    Channel,
    ConsentRecord,
    InboundSms,
    InboundSmsKind,
    Message,
    MessageStatus,
    TriggerToggle,
)
from notifications.services import notification_enqueue
from notifications.sms_keywords import KeywordKind, classify_sms

pytestmark = pytest.mark.django_db

TOKEN = "twilio-webhook-token"
NUMBER = "+14155550123"


@pytest.fixture(autouse=True)
def _twilio_token(settings):  # type: ignore[no-untyped-def]
    settings.TWILIO_AUTH_TOKEN = TOKEN


def _post(client, merchant, body, *, sid="SM1", sender=NUMBER, signature=None):  # type: ignore[no-untyped-def]
    path = f"/notifications/{merchant.slug}/twilio/sms/"
    params = {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body}
    params = {k: v for k, v in params.items() if v is not None}
    if signature is None:
        signature = RequestValidator(TOKEN).compute_signature(
            f"https://track.example{path}", params
        )
    return client.post(path, data=params, HTTP_X_TWILIO_SIGNATURE=signature)


def _withdrawn(merchant) -> set[str]:  # type: ignore[no-untyped-def]
    latest: dict[str, bool] = {}
    for record in ConsentRecord.objects.filter(
        merchant=merchant, channel=Channel.SMS, address=NUMBER
    ).order_by("recorded_at", "id"):
        latest[record.purpose] = record.granted
    return {purpose for purpose, granted in latest.items() if not granted}


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        "Stop",
        "  UNSUBSCRIBE ",
        "end",
        "Quit",
        "CANCEL",
        "revoke",
        "OptOut",
        "STOPALL",
    ],
)
def test_each_opt_out_keyword_opts_the_number_out(client, merchant_a, body):
    response = _post(client, merchant_a, body)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert _withdrawn(merchant_a) == {"transactional", "marketing"}
    assert InboundSms.objects.get().kind == InboundSmsKind.OPT_OUT


@pytest.mark.parametrize(
    "body", ["stop.", "Stop please", "STOPP", "please stop texting me", "opt out"]
)
def test_close_variants_are_flagged_for_review_not_acted_on(client, merchant_a, body):
    assert _post(client, merchant_a, body).status_code == 200
    assert InboundSms.objects.get().kind == InboundSmsKind.REVIEW
    assert _withdrawn(merchant_a) == set()


@pytest.mark.parametrize("body", ["START", "yes", "Unstop"])
def test_opt_in_keywords_restore_transactional_messages(client, merchant_a, body):
    _post(client, merchant_a, "STOP", sid="SM1")
    _post(client, merchant_a, body, sid="SM2")
    assert _withdrawn(merchant_a) == {"marketing"}  # marketing was never granted


def test_start_restores_marketing_only_if_it_was_granted_before(client, merchant_a):
    consent_record(
        merchant=merchant_a,
        channel=Channel.SMS,
        address=NUMBER,
        purpose="marketing",
        granted=True,
        source="checkout",
    )
    _post(client, merchant_a, "STOP", sid="SM1")
    _post(client, merchant_a, "START", sid="SM2")
    assert _withdrawn(merchant_a) == set()


def test_bad_signature_is_rejected_and_nothing_changes(client, merchant_a):
    response = _post(client, merchant_a, "STOP", signature="bm90LXRoZS1zaWduYXR1cmU=")
    assert response.status_code == 403
    assert not InboundSms.objects.exists()
    assert _withdrawn(merchant_a) == set()
    # Signed for another merchant's URL: also rejected.
    path_b = "/notifications/aurora-jp/twilio/sms/"
    params = {"MessageSid": "SM9", "From": NUMBER, "To": "+15005550006", "Body": "STOP"}
    signature = RequestValidator(TOKEN).compute_signature(f"https://track.example{path_b}", params)
    assert _post(client, merchant_a, "STOP", sid="SM9", signature=signature).status_code == 403


def test_repeated_webhook_has_no_second_effect(client, merchant_a):
    _post(client, merchant_a, "STOP", sid="SM1")
    _post(client, merchant_a, "STOP", sid="SM1")
    assert InboundSms.objects.count() == 1
    assert ConsentRecord.objects.count() == 2  # one per purpose, once


def test_unreadable_webhook_is_kept_and_marked_failed(client, merchant_a):
    response = _post(client, merchant_a, "STOP", sender=None)
    assert response.status_code == 200
    inbound = InboundSms.objects.get()
    assert inbound.kind == InboundSmsKind.FAILED
    assert "From is missing" in inbound.error
    assert _withdrawn(merchant_a) == set()


def test_opt_out_is_per_merchant(client, merchant_a, merchant_b):
    _post(client, merchant_a, "STOP")
    assert _withdrawn(merchant_a) == {"transactional", "marketing"}
    assert _withdrawn(merchant_b) == set()


def test_stop_between_queueing_and_sending_wins(
    client, merchant_a, shopper, notice, daytime, settings, django_capture_on_commit_callbacks
):
    TriggerToggle.objects.create(
        merchant=merchant_a, trigger="out_for_delivery", channel=Channel.EMAIL, enabled=False
    )
    with django_capture_on_commit_callbacks(execute=False) as pending:
        (message,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id="e1",
        )
    assert message.status == MessageStatus.QUEUED
    _post(client, merchant_a, "STOP")  # arrives before the send task runs
    for callback in pending:
        callback()
    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED
    assert message.status_reason.startswith("opted out (SMS keyword")
    assert not (settings.NOTIFICATIONS_OUTBOX_DIR / "sms.jsonl").exists()
    assert list(message.events.values_list("type", flat=True)) == ["queued", "suppressed"]
    # And later messages are suppressed when queued.
    with django_capture_on_commit_callbacks(execute=True):
        (later,) = notification_enqueue(
            merchant=merchant_a,
            trigger="out_for_delivery",
            recipient=shopper,
            context=notice,
            event_id="e2",
        )
    assert later.status == MessageStatus.SUPPRESSED
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 0


def test_classifier_table():
    assert classify_sms("STOP") == KeywordKind.OPT_OUT
    assert classify_sms("Thanks, see you!") == KeywordKind.OTHER
    assert classify_sms("Endless thanks") == KeywordKind.OTHER
    assert classify_sms("配信停止") == KeywordKind.REVIEW
