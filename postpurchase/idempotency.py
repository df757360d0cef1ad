"""`Idempotency-Key` for POST requests: one stored answer per merchant and key.

A request claims its key by inserting a row (the unique constraint decides between concurrent
requests). When the view has answered, the row stores the status and body; a retry with the same
key and the same body gets that answer replayed. The same key with a different body is a client
bug (`idempotency_key_reused`); a retry while the first is still running is told to wait
(`idempotency_key_in_flight`). An answer that says "try again" (5xx, 409, 429) is not stored, so
the retry runs for real. Keys expire after `IDEMPOTENCY_KEY_TTL`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from postpurchase.errors import DomainError, PlatformErrorCode
from postpurchase.models import IdempotencyRecord, Merchant

MAX_KEY_LENGTH = 255
# Answers a client is expected to retry: they are never replayed.
RETRYABLE_STATUSES = frozenset({409, 429})


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    """SHA-256 of the method, path and the body's canonical JSON (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def _key_error(key: str) -> str | None:
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters."
    if not key.isprintable() or not key.isascii():
        return "Idempotency-Key must be printable ASCII."
    return None


def idempotency_claim(
    *, merchant: Merchant, key: str, method: str, path: str, fingerprint: str
) -> tuple[IdempotencyRecord | None, StoredResponse | None]:
    """Claim `key` for this request: (record to complete, None) or (None, answer to replay).

    Raises DomainError when the key is malformed, reused for another request, or in flight.
    """
    if message := _key_error(key):
        raise DomainError("invalid_idempotency_key", message, field="Idempotency-Key")
    expired_before = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    with transaction.atomic():
        IdempotencyRecord.objects.for_merchant(merchant).filter(
            key=key, created_at__lt=expired_before
        ).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                merchant=merchant,
                key=key,
                method=method.upper(),
                path=path[:255],
                request_hash=fingerprint,
            )
        return record, None
    except IntegrityError:
        pass
    existing = IdempotencyRecord.objects.for_merchant(merchant).filter(key=key).first()
    if existing is None:  # expired and deleted between our insert and read: treat as in flight
        raise DomainError(
            PlatformErrorCode.IDEMPOTENCY_KEY_IN_FLIGHT,
            "A request with this Idempotency-Key is being processed; retry shortly.",
        )
    if existing.request_hash != fingerprint:
        raise DomainError(
            PlatformErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was used for a different request; use a new key.",
            field="Idempotency-Key",
        )
    if existing.status_code is None:
        raise DomainError(
            PlatformErrorCode.IDEMPOTENCY_KEY_IN_FLIGHT,
            "A request with this Idempotency-Key is being processed; retry shortly.",
        )
    return None, StoredResponse(status_code=existing.status_code, body=existing.response_body)


def idempotency_complete(*, record: IdempotencyRecord, status_code: int, body: Any) -> None:
    """Store the answer for replay, or free the key when the answer invites a retry."""
    if status_code >= 500 or status_code in RETRYABLE_STATUSES:
        idempotency_release(record=record)
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=status_code, response_body=body
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a claim whose request failed unexpectedly, so a retry runs again."""
    IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def idempotency_records_purge(*, limit: int = 10_000) -> int:
    """Delete expired records (bounded batch); returns how many went."""
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    ids = list(
        IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:limit]
    )
    IdempotencyRecord.objects.filter(pk__in=ids).delete()
    return len(ids)
