"""The inbound webhook edge: verify the raw body, store it, answer fast.

Authentication comes first and is all-or-nothing: a request that no active secret of the
merchant signed is answered 401 and nothing of it is stored. Everything after the edge (parsing,
matching shipments, recording events) runs in a worker after commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tracking.ingest import inbound_webhook_receive
from tracking.models import WebhookSource
from tracking.webhooks import SignatureError, WebhookRequest, verifier_for
from tracking.webhooks.secrets import (
    active_secrets,
    merchant_id_for_slug,
    webhook_secret_mark_used,
)

_SOURCES = frozenset(WebhookSource.values)


def _headers(meta: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers with lower-cased names (what `request.headers` gives, lowered)."""
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in meta.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if key in meta:
            headers[key.replace("_", "-").lower()] = meta[key]
    return headers


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "detail": detail}}, status=status)


@csrf_exempt
@require_POST
def webhook_receive(request: HttpRequest, source: str, merchant_slug: str) -> JsonResponse:
    """POST /webhooks/<source>/<merchant_slug>/ — verify, store, acknowledge."""
    if source not in _SOURCES:
        return _error(404, "unknown_source", f"No webhook source {source!r}.")
    merchant_id = merchant_id_for_slug(merchant_slug)
    if merchant_id is None:
        return _error(404, "unknown_merchant", "No such merchant.")
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.TRACKING_WEBHOOK_MAX_BODY:
        return _error(413, "body_too_large", "The body exceeds TRACKING_WEBHOOK_MAX_BODY.")
    body = request.body
    secrets = active_secrets(merchant_id=merchant_id, source=source)
    query = request.GET if request.META.get("QUERY_STRING") else {}
    verification = WebhookRequest(
        body=body,
        headers=_headers(request.META),
        query={k: query.get(k, "") for k in query},
        received_at=timezone.now(),
    )
    try:
        identity = verifier_for(source).verify(verification, [s for _, s in secrets])
    except SignatureError as exc:
        return _error(401, "signature_invalid", str(exc))
    webhook_secret_mark_used(secret_id=secrets[identity.secret_index][0])
    webhook_id, created = inbound_webhook_receive(
        merchant_id=merchant_id,
        source=source,
        topic=identity.topic,
        unique_key=identity.unique_key,
        headers=verification.headers,
        body=body,
    )
    return JsonResponse(
        {"id": webhook_id, "duplicate": not created}, status=202 if created else 200
    )
