"""AfterShip Tracking: `aftership-hmac-sha256`, base64 HMAC-SHA256 of the raw body.

The unique key is the payload's `event_id`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from tracking.webhooks.signing import (
    SignatureError,
    WebhookIdentity,
    WebhookRequest,
    body_hash,
    decode_base64,
    hmac_sha256,
    json_fields,
    matching_secret,
    require_secrets,
)

HEADER = "aftership-hmac-sha256"


def normalise_secret(secret: str) -> bytes:
    return secret.encode()


def sign(body: bytes, secret: str) -> dict[str, str]:
    return {HEADER: base64.b64encode(hmac_sha256(secret.encode(), body)).decode()}


def verify(request: WebhookRequest, secrets: Sequence[bytes]) -> WebhookIdentity:
    require_secrets(secrets, "AfterShip")
    value = request.header(HEADER)
    if not value:
        raise SignatureError(f"missing {HEADER} header")
    index = matching_secret(secrets, request.body, [decode_base64(value)])
    if index is None:
        raise SignatureError(f"{HEADER} does not match any active secret")
    topic, event_id = json_fields(request.body, "event", "event_id")
    return WebhookIdentity(
        topic=topic,
        unique_key=event_id or body_hash(request.body),
        secret_index=index,
    )
