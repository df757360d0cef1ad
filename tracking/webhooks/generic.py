"""Our own generic format: `X-Postpurchase-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`.

The hex is HMAC-SHA256 of `<t>.<raw body>` with a merchant secret; the timestamp must be within
TRACKING_WEBHOOK_TOLERANCE (replay protection); a sender rotating secrets may send one `v1` per
secret. The body's `event_id` is the unique key (docs/tracking.md describes the format).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from tracking.webhooks.shippo import verify_timestamped
from tracking.webhooks.signing import (
    SignatureError,
    WebhookIdentity,
    WebhookRequest,
    body_hash,
    hmac_sha256,
    json_fields,
    require_secrets,
)

HEADER = "X-Postpurchase-Signature"


def normalise_secret(secret: str) -> bytes:
    return secret.encode()


def sign(body: bytes, *secrets: str, timestamp: int | None = None) -> dict[str, str]:
    t = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={t}"] + [
        f"v1={hmac_sha256(s.encode(), f'{t}.'.encode() + body).hex()}" for s in secrets
    ]
    return {HEADER: ",".join(parts)}


def verify(request: WebhookRequest, secrets: Sequence[bytes]) -> WebhookIdentity:
    require_secrets(secrets, "generic")
    if not request.header(HEADER):
        raise SignatureError(f"missing {HEADER} header")
    index = verify_timestamped(request, secrets, HEADER)
    topic, event_id = json_fields(request.body, "type", "event_id")
    return WebhookIdentity(
        topic=topic or "tracking.update",
        unique_key=event_id or body_hash(request.body),
        secret_index=index,
    )
