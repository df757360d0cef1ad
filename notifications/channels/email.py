"""Email through Django's mail backend (django-anymail's ESP backends in production, SMTP or
a file outbox otherwise), one connection per batch."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import smtplib
import socket
from email.utils import formataddr
from typing import Any

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

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


def message_id_header(message: OutgoingMessage, domain: str) -> str:
    """A Message-ID fixed per message: a resend of the same message is recognisably the same."""
    key = settings.SECRET_KEY.encode()
    tag = hmac.new(key, f"{message.merchant_id}:{message.message_id}".encode(), hashlib.sha256)
    return f"<n{message.merchant_id}.{message.message_id}.{tag.hexdigest()[:12]}@{domain}>"


class EmailChannel:
    provider = "email"

    def __init__(self, *, name: str = "email") -> None:
        self.name = name

    def build(self, message: OutgoingMessage) -> EmailMultiAlternatives:
        from_address = message.from_address or settings.DEFAULT_FROM_EMAIL
        from_email = (
            formataddr((message.from_name, from_address)) if message.from_name else from_address
        )
        domain = from_address.rpartition("@")[2] or "localhost"
        headers = {"Message-ID": message_id_header(message, domain)}
        headers.update(dict(message.headers))
        email = EmailMultiAlternatives(
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
        results: list[SendResult | Exception] = []
        try:
            connection = get_connection(fail_silently=False)
            connection.open()
        except Exception as exc:  # the server is down: every message of the batch waits
            error = classify_email_error(exc)
            return [error for _ in messages]
        try:
            for index, message in enumerate(messages):
                email = self.build(message)
                try:
                    connection.send_messages([email])
                except Exception as exc:  # classified per message; a dead link fails the rest
                    error = classify_email_error(exc)
                    results.append(error)
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
        finally:
            # Closing a connection the server already dropped may fail; nothing is lost.
            with contextlib.suppress(Exception):
                connection.close()
        return results
