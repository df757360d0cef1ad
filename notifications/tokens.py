"""Signed tokens in message links: the tracking link and the one-click unsubscribe link.

Tracking links look like `<NOTIFICATIONS_BASE_URL>/<merchant-slug>/track/t/<token>/`; the token
signs the shipment's public id with the `tracking.link` salt (the tracking page verifies it with
`tracking_token_read`). Unsubscribe tokens sign the contact point and purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import signing

from notifications.errors import NotificationErrorCode
from postpurchase.errors import DomainError

TRACKING_SALT = "tracking.link"
UNSUBSCRIBE_SALT = "notifications.unsubscribe"


@lru_cache(maxsize=16)
def _signer(salt: str, secret_key: str) -> signing.TimestampSigner:
    """The signer `signing.dumps` would build, once per salt and secret key (building one reads
    several settings; a burst signs two links per email)."""
    return signing.TimestampSigner(key=secret_key, salt=salt)


def _dumps(payload: dict[str, Any], *, salt: str) -> str:
    """`signing.dumps(payload, salt=salt)`, the same token, with a cached signer."""
    return _signer(salt, settings.SECRET_KEY).sign_object(payload)


def tracking_token(*, merchant_slug: str, tracking_ref: str) -> str:
    return _dumps({"m": merchant_slug, "s": tracking_ref}, salt=TRACKING_SALT)


def tracking_token_read(*, merchant_slug: str, token: str) -> str:
    """The shipment public id in a tracking token of this merchant; a bad token is a DomainError."""
    try:
        data = signing.loads(token, salt=TRACKING_SALT)
    except signing.BadSignature as exc:
        raise DomainError(NotificationErrorCode.INVALID_TOKEN, "This link is not valid.") from exc
    if data.get("m") != merchant_slug:
        raise DomainError(NotificationErrorCode.INVALID_TOKEN, "This link is not valid.")
    return str(data["s"])


def tracking_url(*, merchant_slug: str, tracking_ref: str) -> str:
    token = tracking_token(merchant_slug=merchant_slug, tracking_ref=tracking_ref)
    return f"{settings.NOTIFICATIONS_BASE_URL.rstrip('/')}/{merchant_slug}/track/t/{token}/"


@dataclass(frozen=True)
class UnsubscribeClaim:
    merchant_id: int
    channel: str
    address: str
    purpose: str
    message_key: str
    language: str = ""  # the message's language, so the page answers in it


def unsubscribe_token(
    *,
    merchant_id: int,
    channel: str,
    address: str,
    purpose: str,
    message_key: str,
    language: str = "",
) -> str:
    payload: dict[str, Any] = {
        "m": merchant_id,
        "c": channel,
        "a": address,
        "p": purpose,
        "k": message_key,
    }
    if language:
        payload["l"] = language
    return _dumps(payload, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> UnsubscribeClaim:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as exc:
        raise DomainError(
            NotificationErrorCode.INVALID_TOKEN, "This unsubscribe link is not valid."
        ) from exc
    return UnsubscribeClaim(
        merchant_id=int(data["m"]),
        channel=str(data["c"]),
        address=str(data["a"]),
        purpose=str(data["p"]),
        message_key=str(data.get("k", "")),
        language=str(data.get("l", "")),
    )


def unsubscribe_url(token: str) -> str:
    return f"{settings.NOTIFICATIONS_BASE_URL.rstrip('/')}/notifications/unsubscribe/{token}/"


PUSH_SALT = "notifications.push"


def push_token(*, merchant_slug: str, order_ref: str, customer_ref: str) -> str:
    """What a tracking page embeds in its subscribe button: which order the browser follows."""
    payload = {"m": merchant_slug, "o": order_ref, "c": customer_ref}
    return signing.dumps(payload, salt=PUSH_SALT)


def push_token_read(*, merchant_slug: str, token: str) -> tuple[str, str]:
    """(order_ref, customer_ref) of a push token of this merchant."""
    try:
        data = signing.loads(token, salt=PUSH_SALT)
    except signing.BadSignature as exc:
        raise DomainError(
            NotificationErrorCode.INVALID_TOKEN, "This page's token is not valid."
        ) from exc
    if data.get("m") != merchant_slug:
        raise DomainError(NotificationErrorCode.INVALID_TOKEN, "This page's token is not valid.")
    return str(data.get("o", "")), str(data.get("c", ""))
