"""Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the raw body with the app's secret.

`X-Shopify-Webhook-Id` is the unique key (the same id on every retry of a delivery) and
`X-Shopify-Topic` the topic (orders/create, fulfillments/update, …).
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
    matching_secret,
    require_secrets,
)

HEADER = "X-Shopify-Hmac-Sha256"
WEBHOOK_ID = "X-Shopify-Webhook-Id"
TOPIC = "X-Shopify-Topic"
TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "fulfillments/create",
        "fulfillments/update",
    }
)


def normalise_secret(secret: str) -> bytes:
    return secret.encode()


def sign(body: bytes, secret: str, *, topic: str, webhook_id: str) -> dict[str, str]:
    digest = base64.b64encode(hmac_sha256(secret.encode(), body)).decode()
    return {HEADER: digest, TOPIC: topic, WEBHOOK_ID: webhook_id}


def verify(request: WebhookRequest, secrets: Sequence[bytes]) -> WebhookIdentity:
    require_secrets(secrets, "Shopify")
    value = request.header(HEADER)
    if not value:
        raise SignatureError(f"missing {HEADER} header")
    index = matching_secret(secrets, request.body, [decode_base64(value)])
    if index is None:
        raise SignatureError(f"{HEADER} does not match any active secret")
    webhook_id = request.header(WEBHOOK_ID)
    return WebhookIdentity(
        topic=request.header(TOPIC),
        unique_key=webhook_id[:128] if webhook_id else body_hash(request.body),
        secret_index=index,
    )
