"""ESMTP PIPELINING (RFC 2920) against a real aiosmtpd on loopback: every reply the pipelined
transaction can meet gives what smtplib's lock-step `sendmail` gives (the same return value or
exception, the session usable after it the same way), and it is used only when offered."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import EmailMultiAlternatives

from notifications.channels.email import PlainMimeEmail
from notifications.channels.smtp_backend import EmailBackend
from notifications.channels.smtp_pipelining import offers_pipelining, sendmail_pipelined


class _Relay:
    """An aiosmtpd handler with scripted refusals; records what it delivered."""

    def __init__(self, *, pipelining: bool) -> None:
        self.pipelining = pipelining
        self.mail_reply = ""  # e.g. "553 ..." refuses MAIL
        self.rcpt_replies: dict[str, str] = {}
        self.accept_refused = False  # keep refused recipients in the envelope (DATA then 354s)
        self.data_reply = "250 OK"
        self.delivered: list[tuple[list[str], bytes]] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        reply = self.rcpt_replies.get(address, "250 OK")
        if reply.startswith("250") or self.accept_refused:
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.data_reply.startswith("250"):
            self.delivered.append((list(envelope.rcpt_tos), envelope.original_content))
        return self.data_reply


def _serve(relay: _Relay) -> tuple[Controller, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


@pytest.fixture
def relays() -> Iterator[dict[bool, tuple[_Relay, int]]]:
    """Two relays, one offering PIPELINING and one not, scripted alike by each test."""
    made = {flag: _Relay(pipelining=flag) for flag in (False, True)}
    controllers = {flag: _serve(relay) for flag, relay in made.items()}
    try:
        yield {flag: (made[flag], controllers[flag][1]) for flag in made}
    finally:
        for controller, _ in controllers.values():
            controller.stop()


BODY = b"Subject: hi\r\n\r\n.leading dot\r\nline\r\n..two dots\r\n"


def _outcome(relays: dict[bool, tuple[_Relay, int]], script: Any, to: list[str]) -> list[Any]:
    """Run one transaction lock-step (no PIPELINING offered) and one pipelined (offered), then
    a plain message on each session; what each side saw and delivered, for comparison."""
    seen = []
    for flag, (relay, port) in relays.items():
        script(relay)
        client = smtplib.SMTP("127.0.0.1", port, timeout=5)
        try:
            assert offers_pipelining(client) is flag
            send = sendmail_pipelined if flag else client.sendmail
            args = (
                (client, "shop@example.com", to, BODY) if flag else ("shop@example.com", to, BODY)
            )
            try:
                result: Any = ("returned", send(*args))  # type: ignore[operator]
            except smtplib.SMTPException as exc:
                result = ("raised", type(exc).__name__, exc.args)
            relay.mail_reply, relay.rcpt_replies, relay.data_reply = "", {}, "250 OK"
            relay.accept_refused = False
            after = "closed"
            if client.sock is not None:  # the session goes on as lock-step smtplib's would
                client.sendmail("shop@example.com", ["next@example.com"], b"Subject: next\r\n\r\n")
                after = "usable"
        finally:
            client.close()
        seen.append((result, after, relay.delivered))
    assert seen[0] == seen[1], seen
    return seen[0]


def test_a_clean_transaction_delivers_the_same_bytes(relays):  # type: ignore[no-untyped-def]
    result, after, delivered = _outcome(relays, lambda relay: None, ["a@example.com"])
    assert result == ("returned", {})
    assert after == "usable"
    assert delivered[0] == (["a@example.com"], BODY)  # dots unstuffed back by the server


def test_one_refused_of_two_recipients_is_returned_and_the_other_gets_it(relays):  # type: ignore[no-untyped-def]
    def script(relay: _Relay) -> None:
        relay.rcpt_replies = {"b@example.com": "550 5.1.1 no such user"}

    result, after, delivered = _outcome(relays, script, ["a@example.com", "b@example.com"])
    assert result == ("returned", {"b@example.com": (550, b"5.1.1 no such user")})
    assert delivered[0][0] == ["a@example.com"]
    assert after == "usable"


@pytest.mark.parametrize("reply", ["550 5.1.1 no such user", "450 4.2.0 try later"])
def test_a_refused_only_recipient_raises_recipients_refused(relays, reply):  # type: ignore[no-untyped-def]
    def script(relay: _Relay) -> None:
        relay.rcpt_replies = {"a@example.com": reply}

    result, after, delivered = _outcome(relays, script, ["a@example.com"])
    code, text = reply.split(" ", 1)
    assert result == (
        "raised",
        "SMTPRecipientsRefused",
        ({"a@example.com": (int(code), text.encode())},),
    )
    assert after == "usable"
    assert [rcpt for rcpt, _ in delivered] == [["next@example.com"]]


def test_a_refused_sender_raises_sender_refused(relays):  # type: ignore[no-untyped-def]
    def script(relay: _Relay) -> None:
        relay.mail_reply = "553 5.7.1 sender not allowed"

    result, after, delivered = _outcome(relays, script, ["a@example.com"])
    assert result == (
        "raised",
        "SMTPSenderRefused",
        (553, b"5.7.1 sender not allowed", "shop@example.com"),
    )
    assert after == "usable"
    assert len(delivered) == 1  # only the next message


@pytest.mark.parametrize("reply", ["554 5.6.0 content rejected", "451 4.3.0 queue full"])
def test_a_refusal_after_the_content_raises_data_error(relays, reply):  # type: ignore[no-untyped-def]
    def script(relay: _Relay) -> None:
        relay.data_reply = reply

    result, after, delivered = _outcome(relays, script, ["a@example.com"])
    code, text = reply.split(" ", 1)
    assert result == ("raised", "SMTPDataError", (int(code), text.encode()))
    assert after == "usable"
    assert len(delivered) == 1


def test_a_421_after_the_content_closes_the_session(relays):  # type: ignore[no-untyped-def]
    def script(relay: _Relay) -> None:
        relay.data_reply = "421 4.3.2 shutting down"

    result, after, _ = _outcome(relays, script, ["a@example.com"])
    assert result == ("raised", "SMTPDataError", (421, b"4.3.2 shutting down"))
    assert after == "closed"


def test_data_accepted_with_every_recipient_refused_ends_an_empty_transaction(relays):  # type: ignore[no-untyped-def]
    """RFC 2920: a server may 354 the DATA of a group whose every RCPT it refused; the client
    ends it with a lone "." (nothing to deliver) and resets, raising what lock-step raises."""
    relay, port = relays[True]
    relay.rcpt_replies = {"a@example.com": "550 5.1.1 no such user"}
    relay.accept_refused = True
    relay.data_reply = "554 5.5.1 no valid recipients"
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        assert offers_pipelining(client)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
            sendmail_pipelined(client, "shop@example.com", ["a@example.com"], BODY)
        assert raised.value.recipients == {"a@example.com": (550, b"5.1.1 no such user")}
        relay.data_reply = "250 OK"
        relay.rcpt_replies = {}
        client.sendmail("shop@example.com", ["next@example.com"], b"Subject: next\r\n\r\n")
    assert [rcpt for rcpt, _ in relay.delivered] == [["next@example.com"]]


def _email(to: str) -> EmailMultiAlternatives:
    email = PlainMimeEmail(
        subject="Your parcel", body="Delivered.", from_email="shop@example.com", to=[to]
    )
    email.attach_alternative("<p>Delivered.</p>", "text/html")
    return email


@pytest.mark.parametrize("offered", [False, True], ids=["not-offered", "offered"])
def test_the_backend_pipelines_only_when_the_server_offers_it(relays, offered, monkeypatch):  # type: ignore[no-untyped-def]
    relay, port = relays[offered]
    backend = EmailBackend(host="127.0.0.1", port=port, use_tls=False, timeout=5)
    writes: list[bytes] = []
    with backend:
        original = backend.connection.send
        monkeypatch.setattr(
            backend.connection, "send", lambda data: (writes.append(data), original(data))[1]
        )
        assert backend.send_messages([_email("a@example.com"), _email("b@example.com")]) == 2
    raw = [w if isinstance(w, bytes) else w.encode() for w in writes]
    mail_writes = [w for w in raw if not w.lower().startswith((b"ehlo", b"quit"))]
    # Lock-step: MAIL, RCPT, DATA, content (4 writes a message); pipelined: 2.
    assert len(mail_writes) == (4 if not offered else 2) * 2
    assert [rcpt for rcpt, _ in relay.delivered] == [["a@example.com"], ["b@example.com"]]


def test_the_backend_keeps_per_message_errors_when_pipelining(relays):  # type: ignore[no-untyped-def]
    relay, port = relays[True]
    relay.rcpt_replies = {"b@example.com": "550 5.1.1 no such user"}
    backend = EmailBackend(host="127.0.0.1", port=port, use_tls=False, timeout=5)
    with backend:
        assert backend.send_messages([_email("a@example.com")]) == 1
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            backend.send_messages([_email("b@example.com")])
        assert backend.send_messages([_email("c@example.com")]) == 1
    assert [rcpt for rcpt, _ in relay.delivered] == [["a@example.com"], ["c@example.com"]]
