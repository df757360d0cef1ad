"""Shippo: two of the methods Shippo documents, either one suffices.

1. A self-generated token in the webhook URL (`…/webhooks/shippo/<merchant>/?token=<secret>`),
   compared in constant time with each active secret.
2. HMAC (enabled on request by Shippo): `Shippo-Auth-Signature: t=<unix>,v1=<hex>` where the hex
   is HMAC-SHA256 of `<t>.<raw body>`; the timestamp must be within TRACKING_WEBHOOK_TOLERANCE.

Shippo's payload carries no event id, so the unique key is the hash of the body: a redelivery of
the same body is a duplicate, a new tracking update is a new body.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence

from django.conf import settings

from tracking.webhooks.signing import (
    SignatureError,
    WebhookIdentity,
    WebhookRequest,
    body_hash,
    decode_hex,
    hmac_sha256,
    json_field,
    matching_secret,
    require_secrets,
)

HEADER = "Shippo-Auth-Signature"
QUERY_TOKEN = "token"  # noqa: S105 - the query parameter name


def normalise_secret(secret: str) -> bytes:
    return secret.encode()


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac_sha256(secret.encode(), f"{t}.".encode() + body).hex()
    return {HEADER: f"t={t},v1={digest}"}


def _verify_token(token: str, secrets: Sequence[bytes]) -> int | None:
    found: int | None = None
    for index, secret in enumerate(secrets):
        if hmac.compare_digest(secret, token.encode()) and found is None:
            found = index
    return found


def parse_signature_header(value: str) -> tuple[int, list[bytes]]:
    """`t=…,v1=…[,v1=…]` -> (timestamp, digests); SignatureError when malformed."""
    timestamp: int | None = None
    digests: list[bytes] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isdigit():
            timestamp = int(item)
        elif key == "v1":
            digests.append(decode_hex(item))
    if timestamp is None or not digests:
        raise SignatureError("signature header must look like t=<unix seconds>,v1=<hex>")
    return timestamp, digests


def verify_timestamped(request: WebhookRequest, secrets: Sequence[bytes], header: str) -> int:
    """Check a `t=…,v1=…` header over `<t>.<body>` with the timestamp tolerance."""
    timestamp, digests = parse_signature_header(request.header(header))
    now = time.time() if request.received_at is None else request.received_at.timestamp()
    tolerance = settings.TRACKING_WEBHOOK_TOLERANCE.total_seconds()
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"{header} timestamp is outside the {tolerance:.0f} s tolerance")
    index = matching_secret(secrets, f"{timestamp}.".encode() + request.body, digests)
    if index is None:
        raise SignatureError(f"{header} does not match any active secret")
    return index


def verify(request: WebhookRequest, secrets: Sequence[bytes]) -> WebhookIdentity:
    require_secrets(secrets, "Shippo")
    token = request.query.get(QUERY_TOKEN, "")
    if request.header(HEADER):
        index = verify_timestamped(request, secrets, HEADER)
    elif token:
        found = _verify_token(token, secrets)
        if found is None:
            raise SignatureError("the token query parameter does not match any active secret")
        index = found
    else:
        raise SignatureError(f"missing {HEADER} header or token query parameter")
    return WebhookIdentity(
        topic=json_field(request.body, "event"),
        unique_key=body_hash(request.body),
        secret_index=index,
    )
