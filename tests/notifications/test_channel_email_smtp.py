"""A real SMTP round trip on loopback: Django's SMTP backend to an in-process aiosmtpd server."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from notifications.models import Channel, Message, MessageStatus, TriggerToggle
from notifications.services import notification_enqueue

pytestmark = pytest.mark.django_db


class _Collector(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK"

    def handle_message(self, message):  # type: ignore[no-untyped-def]  # unused: DATA above
        raise NotImplementedError


@pytest.fixture
def smtp_server(settings) -> Iterator[_Collector]:  # type: ignore[no-untyped-def]
    handler = _Collector()
    with socket.socket() as probe:  # a free loopback port (aiosmtpd needs a fixed one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_TIMEOUT = 5
        yield handler
    finally:
        controller.stop()


def test_email_round_trip_has_unsubscribe_headers_and_both_parts(
    smtp_server, merchant_a, shopper, notice, daytime, django_capture_on_commit_callbacks
):
    merchant_a.email_from_name = "Aurora Outfitters"
    merchant_a.email_from_address = "hello@aurora.example"
    merchant_a.save()
    TriggerToggle.objects.create(
        merchant=merchant_a, trigger="delayed", channel=Channel.SMS, enabled=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = notification_enqueue(
            merchant=merchant_a, trigger="delayed", recipient=shopper, context=notice, event_id="e1"
        )
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT

    (mail_from, rcpt_tos, raw) = smtp_server.received[0]
    assert len(smtp_server.received) == 1
    assert mail_from == "hello@aurora.example"
    assert rcpt_tos == ["alice@example.com"]

    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers are 7-bit on the wire
    lines = head.split("\r\n")
    for line in lines:
        # Every line is a header start or a folded continuation; none is over the RFC limit.
        assert re.match(r"^([A-Za-z0-9-]+: |[ \t])", line), line
        assert len(line) <= 998
    unfolded = re.sub(r"\r\n[ \t]", " ", head)
    names = [line.split(":", 1)[0].lower() for line in unfolded.split("\r\n")]
    assert names.count("list-unsubscribe") == 1
    assert names.count("subject") == 1

    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = parsed["List-Unsubscribe"]
    assert re.fullmatch(r"<https://track\.example/notifications/unsubscribe/[^>\s]+/>", unsubscribe)
    assert parsed["Subject"] == "Alice, your Merino crew sock is running late"
    assert parsed["Message-ID"] == message.provider_message_id
    assert str(parsed["From"]) == "Aurora Outfitters <hello@aurora.example>"
    assert parsed["Reply-To"] == merchant_a.support_email

    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert "New delivery window: Thu, Nov 26 \N{EN DASH} Fri, Nov 27" in text
    assert "https://track.example/aurora/track/t/" in text
    # CSS is inlined (mail clients drop <style>), with the merchant's colour.
    assert "<style" not in html
    assert re.search(
        r'<a class="button" href="https://track\.example/aurora/track/t/[^"]+" style="[^"]*#1f4bd8',
        html,
    )
    assert "Aurora Outfitters" in html
    assert Message.objects.count() == 1


def test_japanese_subject_and_sender_name_survive_the_wire(
    smtp_server, merchant_b, shopper, notice, django_capture_on_commit_callbacks
):
    from datetime import UTC, datetime

    import time_machine

    merchant_b.email_from_name = "オーロラ アウトフィッターズ"
    merchant_b.email_from_address = "hello@aurora.example.jp"
    merchant_b.save()
    TriggerToggle.objects.create(
        merchant=merchant_b, trigger="delivered", channel=Channel.PUSH, enabled=False
    )
    hanako = type(shopper)(**{**shopper.__dict__, "name": "山田 花子", "language": "ja"})
    with (
        time_machine.travel(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), tick=True),  # 12:00 Tokyo
        django_capture_on_commit_callbacks(execute=True),
    ):
        notification_enqueue(
            merchant=merchant_b,
            trigger="delivered",
            recipient=hanako,
            context=notice.__class__(**{**notice.__dict__, "destination_time_zone": "Asia/Tokyo"}),
            event_id="e1",
        )
    (_, _, raw) = smtp_server.received[0]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "山田 花子様、Merino crew sockをお届けしました"
    assert parsed["From"].addresses[0].display_name == "オーロラ アウトフィッターズ"
    assert parsed["From"].addresses[0].addr_spec == "hello@aurora.example.jp"
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert "お届けしました" in html
    assert '<html lang="ja">' in html
