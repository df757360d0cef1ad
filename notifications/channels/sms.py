"""SMS (and WhatsApp, with a `whatsapp:` address) through the official `twilio` client."""

from __future__ import annotations

import threading
from typing import Any

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifications.domain import OutgoingMessage, SendResult
from notifications.errors import RecipientOptedOut
from postpurchase.errors import PermanentIntegrationError, TransientIntegrationError

TWILIO_OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient"


class _HeaderKeepingClient(TwilioHttpClient):
    """Keeps the last response's headers (per thread) so a 429's Retry-After can be honoured."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._local.headers = {}
        response = super().request(*args, **kwargs)
        self._local.headers = dict(response.headers or {})
        return response

    @property
    def last_headers(self) -> dict[str, str]:
        return getattr(self._local, "headers", {})


class TwilioSmsChannel:
    provider = "twilio"

    def __init__(self, *, name: str = "sms") -> None:
        self.name = name
        self.http = _HeaderKeepingClient(timeout=settings.NOTIFICATIONS_PROVIDER_TIMEOUT)
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=self.http
        )

    def send(self, message: OutgoingMessage) -> SendResult:
        sender = message.from_address or settings.TWILIO_FROM_NUMBER
        options: dict[str, Any] = {"to": message.to_address, "body": message.body_text}
        if settings.TWILIO_MESSAGING_SERVICE_SID and not message.from_address:
            options["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            options["from_"] = sender
        if settings.TWILIO_STATUS_CALLBACK_URL:
            # e.g. https://host/notifications/{merchant}/twilio/status/ (see docs/notifications.md)
            options["status_callback"] = settings.TWILIO_STATUS_CALLBACK_URL.replace(
                "{merchant}", message.merchant_slug
            )
        try:
            sent = self.client.messages.create(**options)
        except TwilioRestException as exc:
            raise self._classify(exc) from exc
        except (requests.RequestException, TwilioException) as exc:
            raise TransientIntegrationError(f"Twilio unreachable: {exc}") from exc
        return SendResult(provider=self.provider, provider_message_id=str(sent.sid))

    def _classify(self, exc: TwilioRestException) -> Exception:
        if exc.code == TWILIO_OPTED_OUT:
            return RecipientOptedOut(f"Twilio {exc.code}: the number has opted out")
        if exc.status == 429 or exc.status >= 500:
            retry_after = self.http.last_headers.get("Retry-After")
            try:
                seconds = float(retry_after) if retry_after else None
            except ValueError:
                seconds = None
            return TransientIntegrationError(
                f"Twilio {exc.status} ({exc.code}): {exc.msg}", retry_after=seconds
            )
        return PermanentIntegrationError(f"Twilio {exc.status} ({exc.code}): {exc.msg}")
