"""Web push through `pywebpush` with the platform's VAPID keys."""

from __future__ import annotations

import json

import requests
from django.conf import settings
from pywebpush import WebPushException, webpush

from notifications.domain import OutgoingMessage, SendResult
from notifications.errors import SubscriptionGone
from postpurchase.errors import PermanentIntegrationError, TransientIntegrationError


class WebPushChannel:
    provider = "webpush"

    def __init__(self, *, name: str = "push") -> None:
        self.name = name
        self.session = requests.Session()

    def send(self, message: OutgoingMessage) -> SendResult:
        payload = json.dumps(
            {
                "title": message.subject,
                "body": message.body_text,
                "url": message.link_url,
                "tag": f"m{message.message_id}",
            }
        )
        subscription = {"endpoint": message.to_address, "keys": dict(message.push_keys)}
        try:
            response = webpush(
                subscription,
                payload,
                vapid_private_key=settings.VAPID_PRIVATE_KEY,
                vapid_claims={"sub": f"mailto:{settings.VAPID_CLAIM_EMAIL}"},
                ttl=settings.NOTIFICATIONS_PUSH_TTL,
                timeout=settings.NOTIFICATIONS_PROVIDER_TIMEOUT,
                requests_session=self.session,
            )
        except WebPushException as exc:
            raise self._classify(exc) from exc
        except requests.RequestException as exc:
            raise TransientIntegrationError(f"push service unreachable: {exc}") from exc
        location = getattr(response, "headers", {}).get("Location", "")
        return SendResult(provider=self.provider, provider_message_id=str(location))

    @staticmethod
    def _classify(exc: WebPushException) -> Exception:
        response = exc.response
        status = getattr(response, "status_code", None)
        if status in (404, 410):
            return SubscriptionGone(f"push subscription gone ({status})")
        if status is None or status == 429 or status >= 500:
            header = getattr(response, "headers", {}).get("Retry-After") if response else None
            try:
                retry_after = float(header) if header else None
            except ValueError:
                retry_after = None
            return TransientIntegrationError(f"push service {status}", retry_after=retry_after)
        return PermanentIntegrationError(f"push service refused ({status}): {exc.message}")
