"""A real SMTP round trip on loopback: Django's SMTP backend to an in-process aiosmtpd server."""

from __future__ import annotations

import email
import os
import re
import socket
from collections.abc import Iterator
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from notifications.models import Channel, Message, MessageStatus, TriggerToggle
from notifications.sending import messages_send
from notifications.services import (
    NotificationRequest,
    notification_enqueue,
    notifications_enqueue_many,
)

pytestmark = pytest.mark.django_db


class _Collector(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[str, list[str], bytes]] = []
        self.sessions: list[int] = []  # id of the SMTP session (connection) of each message
        self.refuse: set[str] = set()
        self.noop_reply = "250 OK"
        self.pipelining = False  # advertise PIPELINING (RFC 2920) in the EHLO reply

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        self.sessions.append(id(session))
        return "250 OK"

    async def handle_NOOP(self, server, session, envelope, arg):  # type: ignore[no-untyped-def]
        return self.noop_reply

    def handle_message(self, message):  # type: ignore[no-untyped-def]  # unused: DATA above
        raise NotImplementedError


SMTP_BACKENDS = [  # (backend, whether the server advertises PIPELINING)
    ("django.core.mail.backends.smtp.EmailBackend", False),
    ("notifications.channels.smtp_backend.EmailBackend", False),  # the direct wire path
    ("notifications.channels.smtp_backend.EmailBackend", True),  # ... pipelined
]


@pytest.fixture(params=SMTP_BACKENDS, ids=["django-smtp", "platform-smtp", "platform-pipelined"])
def smtp_server(request, settings) -> Iterator[_Collector]:  # type: ignore[no-untyped-def]
    handler = _Collector()
    handler.pipelining = request.param[1]
    with socket.socket() as probe:  # a free loopback port (aiosmtpd needs a fixed one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = request.param[0]
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


def _queued_emails(merchant, shopper, notice, count: int) -> list[Message]:  # type: ignore[no-untyped-def]
    for channel in (Channel.SMS, Channel.PUSH):
        TriggerToggle.objects.create(
            merchant=merchant, trigger="delivered", channel=channel, enabled=False
        )
    requests = [
        NotificationRequest(
            trigger="delivered",
            recipient=type(shopper)(**{**shopper.__dict__, "email": f"shopper{n}@example.com"}),
            context=notice,
            event_id=f"burst:{n}",
        )
        for n in range(count)
    ]
    # Not inside on-commit capture: the messages stay queued until sent below.
    created = notifications_enqueue_many(merchant=merchant, requests=requests)
    assert {m.status for m in created} == {MessageStatus.QUEUED}
    return created


def test_a_batch_goes_over_several_connections_each_message_once(
    smtp_server, settings, merchant_a, shopper, notice, daytime
):
    settings.NOTIFICATIONS_EMAIL_CONNECTIONS = 3
    created = _queued_emails(merchant_a, shopper, notice, 70)

    summary = messages_send(message_ids=[m.pk for m in created])
    assert summary.sent == 70

    # Three connections of contiguous slices (24, 24, 22 messages), each message once.
    assert len(set(smtp_server.sessions)) == 3
    assert sorted(smtp_server.sessions.count(s) for s in set(smtp_server.sessions)) == [22, 24, 24]
    recipients = [rcpt for _, (rcpt,), _ in smtp_server.received]
    assert sorted(recipients) == sorted(f"shopper{n}@example.com" for n in range(70))
    ids = [
        email.message_from_bytes(raw, policy=policy.default)["Message-ID"]
        for _, _, raw in smtp_server.received
    ]
    sent = Message.objects.filter(pk__in=[m.pk for m in created])
    assert sorted(ids) == sorted(sent.values_list("provider_message_id", flat=True))
    assert set(sent.values_list("status", flat=True)) == {MessageStatus.SENT}

    # A duplicated task finds nothing left to claim: no second delivery.
    assert messages_send(message_ids=[m.pk for m in created]).claimed == 0
    assert len(smtp_server.received) == 70


def test_a_refused_recipient_fails_alone_in_a_parallel_batch(
    smtp_server, settings, merchant_a, shopper, notice, daytime
):
    settings.NOTIFICATIONS_EMAIL_CONNECTIONS = 2
    smtp_server.refuse = {"shopper30@example.com"}
    created = _queued_emails(merchant_a, shopper, notice, 40)

    summary = messages_send(message_ids=[m.pk for m in created])

    assert (summary.sent, summary.failed) == (39, 1)
    assert len(set(smtp_server.sessions)) == 2
    refused = Message.objects.get(to_address="shopper30@example.com")
    assert refused.status == MessageStatus.FAILED
    assert "recipient refused" in refused.status_reason
    others = Message.objects.exclude(pk=refused.pk)
    assert set(others.values_list("status", flat=True)) == {MessageStatus.SENT}


def test_a_small_batch_uses_one_connection(
    smtp_server, settings, merchant_a, shopper, notice, daytime
):
    settings.NOTIFICATIONS_EMAIL_CONNECTIONS = 4
    created = _queued_emails(merchant_a, shopper, notice, 19)

    assert messages_send(message_ids=[m.pk for m in created]).sent == 19
    assert len(set(smtp_server.sessions)) == 1


def test_one_line_headers_are_written_exactly_as_compat32_folds_them():
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    from notifications.channels.email import _SMTP_MIME, _encoded_text

    def build(mime_policy):  # type: ignore[no-untyped-def]
        msg = MIMEMultipart("alternative", boundary="b0undary", policy=mime_policy)
        msg.attach(MIMEText("plain body", "plain", "utf-8", policy=mime_policy))
        msg.attach(MIMEText("<p>html</p>", "html", "utf-8", policy=mime_policy))
        msg["Subject"] = _encoded_text("山田 花子様、お届けしました")  # a Header: folded as before
        msg["From"] = "Aurora  Outfitters <hello@aurora.example>"  # two spaces kept
        msg["List-Unsubscribe"] = (
            "<https://track.example/notifications/unsubscribe/" + "x" * 300 + "/>"
        )
        msg["X-Long"] = "word " * 250  # over 998: still folded by compat32
        return msg.as_bytes()

    reference = email.policy.compat32.clone(linesep="\r\n", max_line_length=998)
    assert build(_SMTP_MIME) == build(reference)


def _sample_email(subject: str, body: str, html: str, sender: str):  # type: ignore[no-untyped-def]
    from notifications.channels.email import PlainMimeEmail

    email_message = PlainMimeEmail(
        subject=subject,
        body=body,
        from_email=sender,
        to=["shopper@example.com"],
        reply_to=["help@aurora.example"],
        headers={
            "Message-ID": "<n1.2.abc@aurora.example>",
            "Date": "Mon, 23 Nov 2026 14:00:00 GMT",
            "List-Unsubscribe": "<https://track.example/u/" + "t" * 300 + "/>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    if html:
        email_message.attach_alternative(html, "text/html")
    return email_message


@pytest.mark.parametrize(
    ("subject", "body", "html", "sender"),
    [
        (
            "Alice, your sock was delivered",
            "Delivered\n" * 40,
            "<p>é</p>" * 60,
            "Aurora <a@b.example>",
        ),
        ("山田 花子様、お届けしました" * 4, "お届けしました", "<p>済</p>", "オーロラ <hello@x.jp>"),
        ("x" * 1200, "", "", "hello@aurora.example"),  # over-long subject, text only, empty body
    ],
    ids=["ascii", "japanese", "text-only"],
)
def test_wire_bytes_are_exactly_what_compat32_generates(subject, body, html, sender):  # type: ignore[no-untyped-def]
    email_message = _sample_email(subject, body, html, sender)
    reference = email_message.message()
    boundary = "===============0000000000000000042=="
    if html:
        reference.set_boundary(boundary)
    assert email_message.wire_bytes(boundary=boundary) == reference.as_bytes()


def test_wire_bytes_boundary_is_fresh_per_message_and_parses_back():
    email_message = _sample_email("Hi", "text body", "<p>html body</p>", "a@b.example")
    first, second = email_message.wire_bytes(), email_message.wire_bytes()
    assert first != second  # a new boundary each time, as the email generator makes
    parsed = email.message_from_bytes(first, policy=policy.default)
    assert parsed.get_body(preferencelist=("plain",)).get_content() == "text body"
    assert parsed.get_body(preferencelist=("html",)).get_content() == "<p>html body</p>"


def test_platform_backend_prepares_addresses_as_django_does():
    from django.core.mail.backends.smtp import EmailBackend as DjangoBackend

    from notifications.channels.smtp_backend import EmailBackend

    ours, django_backend = EmailBackend(), DjangoBackend()
    for address in (
        "shopper1@bench.example",
        "first.last+tag@mail.example.co.jp",
        "Aurora Outfitters <hello@aurora.example>",
        "山田 <hanako@例え.jp>",  # IDNA domain: punycoded by Django's parser
    ):
        assert ours.prep_address(address) == django_backend.prep_address(address)
    for bad in ("a@b.example\r\nRCPT TO:<x@y.example>", "a@b.example, c@d.example"):
        with pytest.raises(ValueError, match="Invalid address"):
            ours.prep_address(bad)


# --- SMTP sessions kept between batches ---------------------------------------------------------


def _send_in_batches(created: list[Message], size: int) -> None:
    for start in range(0, len(created), size):
        ids = [m.pk for m in created[start : start + size]]
        assert messages_send(message_ids=ids).sent == len(ids)


def test_the_next_batch_reuses_the_session_of_the_last(
    smtp_server, merchant_a, shopper, notice, daytime
):
    created = _queued_emails(merchant_a, shopper, notice, 15)

    _send_in_batches(created, 5)

    assert len(smtp_server.received) == 15
    assert len(set(smtp_server.sessions)) == 1  # one connection, one greeting and EHLO


def test_a_session_that_stopped_answering_is_replaced_before_a_message(
    smtp_server, merchant_a, shopper, notice, daytime
):
    created = _queued_emails(merchant_a, shopper, notice, 10)
    _send_in_batches(created[:5], 5)
    smtp_server.noop_reply = "421 closing"  # the kept session no longer answers NOOP with 250

    _send_in_batches(created[5:], 5)

    assert len(smtp_server.received) == 10  # nothing lost, nothing sent twice
    assert len(set(smtp_server.sessions)) == 2
    assert smtp_server.sessions[5:] == [smtp_server.sessions[5]] * 5  # all on the new one
    sent = Message.objects.filter(pk__in=[m.pk for m in created], status=MessageStatus.SENT)
    assert sent.count() == 10


def test_a_session_idle_past_its_reuse_time_is_closed_not_reused(
    smtp_server, merchant_a, shopper, notice, daytime, monkeypatch
):
    monkeypatch.setattr("notifications.channels.smtp_sessions.IDLE_REUSE_SECONDS", 0.0)
    created = _queued_emails(merchant_a, shopper, notice, 10)

    _send_in_batches(created, 5)

    assert len(set(smtp_server.sessions)) == 2


def test_a_refused_recipient_leaves_the_session_usable(
    smtp_server, merchant_a, shopper, notice, daytime
):
    smtp_server.refuse = {"shopper2@example.com"}
    created = _queued_emails(merchant_a, shopper, notice, 10)
    first = messages_send(message_ids=[m.pk for m in created[:5]])
    assert (first.sent, first.failed) == (4, 1)

    _send_in_batches(created[5:], 5)

    assert len(set(smtp_server.sessions)) == 1


def test_a_dropped_link_is_closed_not_kept(smtp_server, merchant_a, shopper, notice, daytime):
    from notifications.channels import channel_for

    channel = channel_for("email")
    created = _queued_emails(merchant_a, shopper, notice, 6)
    _send_in_batches(created[:3], 3)
    (kept,) = [backend for _, backend in channel.sessions._idle]  # type: ignore[attr-defined]
    kept.connection.sock.shutdown(socket.SHUT_RDWR)  # the link dies while idle

    _send_in_batches(created[3:], 3)

    assert len(set(smtp_server.sessions)) == 2
    assert len(smtp_server.received) == 6


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_lets_go_of_the_parent_sessions(
    smtp_server, merchant_a, shopper, notice, daytime
):
    from notifications.channels import channel_for

    channel = channel_for("email")
    created = _queued_emails(merchant_a, shopper, notice, 6)
    _send_in_batches(created[:3], 3)
    assert len(channel.sessions) == 1  # type: ignore[attr-defined]

    pid = os.fork()
    if pid == 0:  # the child: no session of the parent's, and the parent's socket left open
        os._exit(0 if len(channel.sessions) == 0 else 1)  # type: ignore[attr-defined]
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    _send_in_batches(created[3:], 3)  # the parent's session still works
    assert len(set(smtp_server.sessions)) == 1


def test_address_headers_are_written_as_the_parser_writes_them():
    from email.utils import formataddr, getaddresses

    from notifications.channels.email import _encoded_address

    for address in (
        "shopper1@bench.example",
        "first.last+tag@mail.example.co.jp",
        "o'brien@example.com",
        "Aurora Outfitters <hello@aurora.example>",
        '"Last, First" <a@b.example>',
        "山田 <hanako@example.jp>",
    ):
        expected = ", ".join(formataddr(p, charset="utf-8") for p in getaddresses([address]))
        assert _encoded_address(address) == expected
