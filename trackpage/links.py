"""Opaque, signed references in tracking-page URLs: page links, status-only links, go-links.

Page links use the notifications engine's format exactly (`notifications.tokens`: the
`tracking.link` salt over `{"m": merchant slug, "s": shipment public id}`), so a link in an email
opens the page; an order with no shipment yet is signed as `{"m": slug, "o": order external id}`.
The signature carries its signing time: links expire after `TRACKPAGE_LINK_MAX_AGE` and an order's
links signed before its `TrackingLinkRevocation` are refused. Go-links sign a destination with a
deterministic signer (no time), so cached fragments can contain them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import signing

from notifications.tokens import TRACKING_SALT, tracking_token
from postpurchase.errors import DomainError
from trackpage.errors import TrackPageErrorCode

STATUS_ONLY_SALT = "trackpage.status"
GO_SALT = "trackpage.go"


class RefKind(StrEnum):
    SHIPMENT = "shipment"
    ORDER = "order"


@dataclass(frozen=True)
class PageRef:
    """What a verified page link points at, and when it was signed."""

    kind: RefKind
    value: str
    issued_at: datetime


def page_token_for_shipment(*, merchant_slug: str, shipment_public_id: str) -> str:
    return tracking_token(merchant_slug=merchant_slug, tracking_ref=shipment_public_id)


def page_token_for_order(*, merchant_slug: str, order_external_id: str) -> str:
    return signing.dumps(
        {"m": merchant_slug, "o": order_external_id}, salt=TRACKING_SALT, compress=True
    )


def status_token(*, merchant_slug: str, shipment_public_id: str) -> str:
    """A link to the status-only view of one shipment (tracking-number lookup)."""
    return signing.dumps(
        {"m": merchant_slug, "s": shipment_public_id}, salt=STATUS_ONLY_SALT, compress=True
    )


@lru_cache(maxsize=4096)
def _verified(token: str, salt: str, keys: tuple[str, ...]) -> tuple[Any, float]:
    """The signed data of a valid token and its signing time, kept per process (the most recent
    4,096 tokens, about a megabyte): a repeat view of a link skips the HMAC, base64, zlib and
    JSON of `signing.loads`. Only valid signatures are kept (a bad one raises, and exceptions are
    not cached); the age is checked by the caller on every read, and revocation by the page's
    head, as before. `keys` (the secret key and its fallbacks) are part of the cache key, so a
    verification is never reused under other keys."""
    data = signing.loads(token, salt=salt)
    return data, float(signing.b62_decode(token.rsplit(":", 2)[1]))


def _read(token: str, *, salt: str, merchant_slug: str) -> tuple[dict[str, str], datetime]:
    max_age = settings.TRACKPAGE_LINK_MAX_AGE.total_seconds()
    try:
        keys = (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
        data, signed_at = _verified(token, salt, keys)
    except signing.BadSignature as exc:
        raise DomainError(TrackPageErrorCode.LINK_INVALID, "This link is not valid.") from exc
    if time.time() - signed_at > max_age:  # as `signing.loads(max_age=...)` checks it
        raise DomainError(TrackPageErrorCode.LINK_EXPIRED, "This link has expired.")
    if not isinstance(data, dict) or data.get("m") != merchant_slug:
        raise DomainError(TrackPageErrorCode.LINK_INVALID, "This link is not valid.")
    return data, datetime.fromtimestamp(signed_at, tz=UTC)


def page_token_read(*, merchant_slug: str, token: str) -> PageRef:
    """The page a link of this merchant opens; a bad, foreign or expired link is a DomainError."""
    data, issued_at = _read(token, salt=TRACKING_SALT, merchant_slug=merchant_slug)
    if isinstance(data.get("s"), str):
        return PageRef(RefKind.SHIPMENT, data["s"], issued_at)
    if isinstance(data.get("o"), str):
        return PageRef(RefKind.ORDER, data["o"], issued_at)
    raise DomainError(TrackPageErrorCode.LINK_INVALID, "This link is not valid.")


def status_token_read(*, merchant_slug: str, token: str) -> PageRef:
    data, issued_at = _read(token, salt=STATUS_ONLY_SALT, merchant_slug=merchant_slug)
    if not isinstance(data.get("s"), str):
        raise DomainError(TrackPageErrorCode.LINK_INVALID, "This link is not valid.")
    return PageRef(RefKind.SHIPMENT, data["s"], issued_at)


@dataclass(frozen=True)
class GoTarget:
    """A signed outbound link: where it leads, what kind of link it is, from which order."""

    url: str
    kind: str
    order_number: str


def go_token(*, merchant_slug: str, target: GoTarget) -> str:
    payload = {"m": merchant_slug, "u": target.url, "k": target.kind, "n": target.order_number}
    return signing.Signer(salt=GO_SALT).sign_object(payload, compress=True)


def go_token_read(*, merchant_slug: str, token: str) -> GoTarget:
    try:
        data = signing.Signer(salt=GO_SALT).unsign_object(token)
    except signing.BadSignature as exc:
        raise DomainError(TrackPageErrorCode.LINK_INVALID, "This link is not valid.") from exc
    if not isinstance(data, dict) or data.get("m") != merchant_slug:
        raise DomainError(TrackPageErrorCode.LINK_INVALID, "This link is not valid.")
    return GoTarget(url=str(data["u"]), kind=str(data["k"]), order_number=str(data["n"]))
