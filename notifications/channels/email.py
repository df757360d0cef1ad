"""Email through Django's mail backend (django-anymail's ESP backends in production, SMTP or
a file outbox otherwise), one connection per batch."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import smtplib
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from email import policy as email_policy
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, getaddresses
from functools import lru_cache
from typing import Any

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from notifications.channels.smtp_backend import PLAIN_ADDRESS
from notifications.channels.smtp_sessions import SessionPool
from notifications.domain import OutgoingMessage, SendResult
from postpurchase.errors import PermanentIntegrationError, TransientIntegrationError


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify_email_error(exc: Exception) -> Exception:
    """Map a backend error to the platform's transient / permanent families."""
    if isinstance(exc, AnymailRecipientsRefused):
        return PermanentIntegrationError(f"recipient refused: {exc}")
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        if status is None or status == 429 or status >= 500:
            return TransientIntegrationError(
                f"ESP error {status}: {exc}",
                retry_after=_retry_after(getattr(exc, "response", None)),
            )
        return PermanentIntegrationError(f"ESP refused ({status}): {exc}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            return TransientIntegrationError(f"recipient deferred: {codes}")
        return PermanentIntegrationError(f"recipient refused: {codes}")
    if isinstance(exc, smtplib.SMTPResponseException):
        if 400 <= exc.smtp_code < 500:
            return TransientIntegrationError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
        return PermanentIntegrationError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
    if isinstance(exc, smtplib.SMTPException | ConnectionError | socket.timeout | OSError):
        return TransientIntegrationError(f"mail server unavailable: {exc}")
    return exc


# compat32 with CRLF: what SMTP wants on the wire, and several times cheaper to build than the
# modern policy. Headers stay on one line up to RFC 5322's 998 limit (DKIM-friendly, and a
# List-Unsubscribe URL is never split).
class OneLineCompat32(email_policy.Compat32):
    """compat32, but a header that already fits on one line is written as is.

    compat32 runs every header through `email.header.Header.encode`, which for a short ASCII
    value returns it unchanged at a cost of ~0.1 ms per header; anything else (non-ASCII,
    `Header` objects, over-long or multi-line values) still goes that way.
    """

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and len(name) + len(value) + 2 <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}"
        folded: str = super()._fold(name, value, sanitize)  # type: ignore[misc]
        return folded


_SMTP_MIME = OneLineCompat32(linesep="\r\n", max_line_length=998)
_ADDRESS_HEADERS = ("From", "To", "Reply-To")


def _encoded_addresses(values: list[str]) -> str:
    return ", ".join(_encoded_address(value) for value in values)


@lru_cache(maxsize=1024)
def _encoded_address(value: str) -> str:
    """One address header value as compat32 writes it; a bare ASCII addr-spec (every shopper's
    address, normalised at enqueue) is returned as the parser would return it, unparsed, and
    anything else (a display name, the merchant's sender) is parsed once per process."""
    if PLAIN_ADDRESS.fullmatch(value):
        return value
    return ", ".join(formataddr(pair, charset="utf-8") for pair in getaddresses([value]))


def _encoded_text(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


class PlainMimeEmail(EmailMultiAlternatives):
    """A text + HTML email whose MIME form is built with the compat32 email API.

    Django's SMTP backend asks for `message()` and sends `as_bytes()`; the modern email policy
    it uses by default costs ~3 ms per message in header parsing. ESP backends (anymail) read the
    attributes instead and are unaffected. Anything beyond text + one HTML part falls back.
    """

    def message(self, *, policy: Any = None) -> Any:
        if self.attachments or len(self.alternatives) > 1:
            return super().message() if policy is None else super().message(policy=policy)
        text = MIMEText(str(self.body), "plain", "utf-8", policy=_SMTP_MIME)
        if self.alternatives:
            msg: Any = MIMEMultipart("alternative", policy=_SMTP_MIME)
            msg.attach(text)
            content, _mimetype = self.alternatives[0]
            msg.attach(MIMEText(str(content), "html", "utf-8", policy=_SMTP_MIME))
        else:
            msg = text
        msg["Subject"] = _encoded_text(str(self.subject))
        msg["From"] = _encoded_addresses([str(self.extra_headers.get("From", self.from_email))])
        msg["To"] = _encoded_addresses([str(a) for a in self.to])
        if self.reply_to:
            msg["Reply-To"] = _encoded_addresses([str(a) for a in self.reply_to])
        names = {name.lower() for name in self.extra_headers}
        if "date" not in names:
            msg["Date"] = formatdate(usegmt=True)
        for name, value in self._extra_header_items():
            msg[name] = value
        return msg

    def _extra_header_items(self) -> list[tuple[str, Any]]:
        return [
            (name, _encoded_text(str(value)))
            for name, value in self.extra_headers.items()
            if name not in _ADDRESS_HEADERS
        ]

    def wire_bytes(self, *, boundary: str | None = None) -> bytes:
        """The bytes `message().as_bytes()` gives for a text (+ HTML) email, written directly.

        The same headers through the same policy fold and the same base64 bodies as compat32's
        generator writes (checked byte for byte in the tests), without building and walking the
        `email` object tree (~0.4 ms a message). Anything else goes through `message()`.
        """
        if self.attachments or len(self.alternatives) > 1:
            wire: bytes = self.message().as_bytes()
            return wire
        headers: list[tuple[str, Any]] = []
        text_part = _wire_part("plain", str(self.body))
        if self.alternatives:
            content, _mimetype = self.alternatives[0]
            boundary = boundary or _make_boundary()
            headers += [
                ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
                ("MIME-Version", "1.0"),
            ]
            delimiter = f"--{boundary}\r\n".encode()
            body = b"".join(
                [
                    delimiter,
                    text_part,
                    b"\r\n",
                    delimiter,
                    _wire_part("html", str(content)),
                    f"\r\n--{boundary}--\r\n".encode(),
                ]
            )
        else:
            head, _, body = text_part.partition(b"\r\n\r\n")
            headers += [
                tuple(line.decode().split(": ", 1))  # type: ignore[misc]
                for line in head.split(b"\r\n")
            ]
        headers.append(("Subject", _encoded_text(str(self.subject))))
        headers.append(
            ("From", _encoded_addresses([str(self.extra_headers.get("From", self.from_email))]))
        )
        headers.append(("To", _encoded_addresses([str(a) for a in self.to])))
        if self.reply_to:
            headers.append(("Reply-To", _encoded_addresses([str(a) for a in self.reply_to])))
        if "date" not in {name.lower() for name in self.extra_headers}:
            headers.append(("Date", formatdate(usegmt=True)))
        headers += self._extra_header_items()
        head_bytes = b"".join(_SMTP_MIME.fold_binary(name, value) for name, value in headers)
        return head_bytes + b"\r\n" + body


def _make_boundary() -> str:
    """compat32's boundary form (`===============<19 digits>==`); base64 bodies never hold it."""
    token = random.randrange(sys.maxsize)  # noqa: S311 - a MIME boundary, not a secret
    return f"{'=' * 15}{token:019d}=="


def _wire_part(subtype: str, content: str) -> bytes:
    """One utf-8 base64 text part (headers, blank line, 76-column lines), as MIMEText writes it."""
    encoded = base64.encodebytes(content.encode("utf-8")).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + encoded


EMAIL_MESSAGES_PER_CONNECTION = 20


def connection_slices(count: int, connections: int) -> list[tuple[int, int]]:
    """Split `count` messages into contiguous (start, stop) slices, one per connection."""
    wanted = max(1, min(connections, count // EMAIL_MESSAGES_PER_CONNECTION))
    size = -(-count // wanted) if count else 0
    return [(start, min(start + size, count)) for start in range(0, count, size or 1)]


def message_id_header(message: OutgoingMessage, domain: str) -> str:
    """A Message-ID fixed per message: a resend of the same message is recognisably the same."""
    key = settings.SECRET_KEY.encode()
    tag = hmac.new(key, f"{message.merchant_id}:{message.message_id}".encode(), hashlib.sha256)
    return f"<n{message.merchant_id}.{message.message_id}.{tag.hexdigest()[:12]}@{domain}>"


class EmailChannel:
    provider = "email"

    def __init__(self, *, name: str = "email") -> None:
        self.name = name
        self.sessions = SessionPool()

    def close(self) -> None:
        """Close the SMTP sessions kept open between batches (the registry drops this channel)."""
        self.sessions.close()

    def build(self, message: OutgoingMessage) -> EmailMultiAlternatives:
        from_address = message.from_address or settings.DEFAULT_FROM_EMAIL
        from_email = (
            formataddr((message.from_name, from_address)) if message.from_name else from_address
        )
        domain = from_address.rpartition("@")[2] or "localhost"
        headers = {"Message-ID": message_id_header(message, domain)}
        headers.update(dict(message.headers))
        email = PlainMimeEmail(
            subject=message.subject,
            body=message.body_text,
            from_email=from_email,
            to=[message.to_address],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers=headers,
        )
        if message.body_html:
            email.attach_alternative(message.body_html, "text/html")
        # Anymail passes these to the ESP; its tracking webhooks echo them back.
        email.metadata = {"message_id": str(message.message_id)}  # type: ignore[attr-defined]
        email.track_clicks = False  # type: ignore[attr-defined]  # keep the signed links intact
        return email

    def send(self, message: OutgoingMessage) -> SendResult:
        result = self.send_many([message])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def send_many(self, messages: list[OutgoingMessage]) -> list[SendResult | Exception]:
        """Send a batch over up to NOTIFICATIONS_EMAIL_CONNECTIONS connections at once.

        Each connection carries a contiguous slice of at least EMAIL_MESSAGES_PER_CONNECTION
        messages, so a small batch uses one. An SMTP exchange is mostly waiting for the server's
        replies; several connections overlap that wait. Results come back in input order.
        """
        slices = connection_slices(len(messages), settings.NOTIFICATIONS_EMAIL_CONNECTIONS)
        if len(slices) <= 1:
            return self._send_over_one_connection(messages)
        with ThreadPoolExecutor(max_workers=len(slices), thread_name_prefix="email") as pool:
            parts = list(
                pool.map(
                    lambda bounds: self._send_over_one_connection(messages[slice(*bounds)]), slices
                )
            )
        return [result for part in parts for result in part]

    def _send_over_one_connection(
        self, messages: list[OutgoingMessage]
    ) -> list[SendResult | Exception]:
        results: list[SendResult | Exception] = []
        try:
            connection = self.sessions.checkout()
        except Exception as exc:  # the server is down: every message of the batch waits
            error = classify_email_error(exc)
            return [error for _ in messages]
        clean = True  # every message got a reply from the server, after which it reset
        try:
            for index, message in enumerate(messages):
                email = self.build(message)
                try:
                    connection.send_messages([email])
                except Exception as exc:  # classified per message; a dead link fails the rest
                    error = classify_email_error(exc)
                    results.append(error)
                    clean = clean and _session_still_clean(exc)
                    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
                        results.extend(error for _ in messages[index + 1 :])
                        break
                    continue
                status = getattr(email, "anymail_status", None)
                provider_id = (
                    getattr(status, "message_id", None) or email.extra_headers["Message-ID"]
                )
                results.append(
                    SendResult(provider=self.provider, provider_message_id=str(provider_id))
                )
        except BaseException:
            clean = False
            raise
        finally:
            self.sessions.checkin(connection, clean=clean)
        return results


def _session_still_clean(exc: Exception) -> bool:
    """After a refusal the server answered and smtplib reset the transaction (RSET): the session
    can carry more messages. A 421 (closing), a timeout or a dropped link leave it unusable."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code != 421
