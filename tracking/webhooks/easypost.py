"""EasyPost: `X-Hmac-Signature: hmac-sha256-hex=<hex>`, HMAC-SHA256 of the raw body.

EasyPost keys the HMAC with the webhook secret after Unicode NFKD normalisation (as its client
libraries do); we store secrets normalised the same way. The event id (`evt_…`) is the unique key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from tracking.webhooks.signing import (
    SignatureError,
    WebhookIdentity,
    WebhookRequest,
    body_hash,
    decode_hex,
    json_fields,
    matching_secret,
    require_secrets,
)

HEADER = "X-Hmac-Signature"
PREFIX = "hmac-sha256-hex="


def normalise_secret(secret: str) -> bytes:
    return unicodedata.normalize("NFKD", secret).encode()


def sign(body: bytes, secret: str) -> dict[str, str]:
    """The headers EasyPost would send (used by tests and the benchmark)."""
    from tracking.webhooks.signing import hmac_sha256

    return {HEADER: PREFIX + hmac_sha256(normalise_secret(secret), body).hex()}


def verify(request: WebhookRequest, secrets: Sequence[bytes]) -> WebhookIdentity:
    require_secrets(secrets, "EasyPost")
    value = request.header(HEADER)
    if not value:
        raise SignatureError(f"missing {HEADER} header")
    if not value.lower().startswith(PREFIX):
        raise SignatureError(f"{HEADER} must start with {PREFIX}")
    digest = decode_hex(value[len(PREFIX) :])
    index = matching_secret(secrets, request.body, [digest])
    if index is None:
        raise SignatureError(f"{HEADER} does not match any active secret")
    topic, event_id = json_fields(request.body, "description", "id")
    return WebhookIdentity(
        topic=topic,
        unique_key=event_id or body_hash(request.body),
        secret_index=index,
    )
