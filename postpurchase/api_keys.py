"""Merchant API keys: generated once, stored as SHA-256 with a visible prefix, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from postpurchase.errors import DomainError, PlatformErrorCode
from postpurchase.models import ApiKey, ApiScope, Merchant

KEY_PREFIX = "pp_"


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown to the merchant once, never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, merchant: Merchant, name: str, scopes: Sequence[str]) -> IssuedApiKey:
    """Issue a key; the returned secret is the only time the full key exists in clear."""
    unknown = sorted(set(scopes) - set(ApiScope.values))
    if unknown:
        raise DomainError("unknown_scope", f"Unknown scopes: {', '.join(unknown)}", field="scopes")
    prefix = KEY_PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        merchant=merchant, name=name, prefix=prefix, hashed_key=_hash(secret), scopes=list(scopes)
    )
    return IssuedApiKey(api_key=key, secret=secret)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key at once; requests with it are refused from now on."""
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    api_key.refresh_from_db()
    return api_key


def api_key_authenticate(*, secret: str) -> ApiKey:
    """Resolve a presented key to its active ApiKey, or raise a DomainError."""
    # "pp_<8 hex>_<random>": the random part may itself contain "_", so split from the left.
    parts = secret.split("_", 2)
    prefix = f"{parts[0]}_{parts[1]}" if len(parts) == 3 and parts[2] else ""
    key = ApiKey.objects.select_related("merchant").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.hashed_key, _hash(secret)):
        raise DomainError(PlatformErrorCode.API_KEY_INVALID, "Invalid API key.")
    if key.revoked_at is not None:
        raise DomainError(PlatformErrorCode.API_KEY_REVOKED, "This API key has been revoked.")
    if not key.merchant.is_active:
        raise DomainError(PlatformErrorCode.API_KEY_INVALID, "Invalid API key.")
    now = timezone.now()
    # Touch last-used at most once a minute to keep the hot path write-free.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
