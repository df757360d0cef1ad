"""Webhook secrets: encrypted at rest, several active per merchant and source, cached briefly.

A shared HMAC secret must be readable to verify a signature, so it cannot be hashed like an API
key; it is encrypted with Fernet (AES-128-CBC + HMAC) under WEBHOOK_SECRET_KEYS (the first key
encrypts, every key decrypts, so the encryption key itself can be rotated), or a key derived from
SECRET_KEY when none is configured. The console shows only the last characters. The edge keeps the
decrypted secrets of a merchant and source in process memory for SECRETS_CACHE_SECONDS, so a
revoked secret stops working within that time in every process.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from postpurchase.errors import DomainError
from postpurchase.models import Merchant
from tracking.models import WebhookSecret, WebhookSource
from tracking.webhooks import verifier_for

SECRETS_CACHE_SECONDS = 30.0
_clock = time.monotonic  # the cache's clock (tests move it forward)
MIN_SECRET_LENGTH = 16

_cache: dict[tuple[int, str], tuple[float, list[tuple[int, bytes]]]] = {}
_merchants: dict[str, tuple[float, int | None]] = {}
_cache_lock = threading.Lock()


def _fernet() -> MultiFernet:
    keys = list(settings.WEBHOOK_SECRET_KEYS)
    if not keys:
        derived = hashlib.sha256(b"webhook-secrets\x00" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DomainError(
            "webhook_secret_undecryptable",
            "A stored webhook secret cannot be decrypted with WEBHOOK_SECRET_KEYS.",
        ) from exc


def forget_cached() -> None:
    with _cache_lock:
        _cache.clear()
        _merchants.clear()
        _last_marked.clear()


def merchant_id_for_slug(slug: str) -> int | None:
    """The active merchant's id for a URL slug, remembered briefly (the edge's hottest read)."""
    now = _clock()
    with _cache_lock:
        hit = _merchants.get(slug)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = Merchant.objects.filter(slug=slug, is_active=True).values_list("pk", flat=True).first()
    with _cache_lock:
        _merchants[slug] = (now + SECRETS_CACHE_SECONDS, found)
    return found


@transaction.atomic
def webhook_secret_add(
    *, merchant: Merchant, source: str, secret: str, label: str = ""
) -> WebhookSecret:
    """Store a new active secret for a merchant and source (the old ones stay active)."""
    if source not in WebhookSource.values:
        raise DomainError("invalid_source", f"Unknown webhook source {source!r}.", field="source")
    secret = secret.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise DomainError(
            "secret_too_short",
            f"Use a secret of at least {MIN_SECRET_LENGTH} characters.",
            field="secret",
        )
    row = WebhookSecret.objects.create(
        merchant=merchant,
        source=source,
        label=label.strip(),
        encrypted_secret=encrypt(secret),
        hint=secret[-4:],
    )
    transaction.on_commit(forget_cached)
    return row


@transaction.atomic
def webhook_secret_revoke(*, secret: WebhookSecret) -> WebhookSecret:
    """Stop accepting a secret (after SECRETS_CACHE_SECONDS in other processes)."""
    WebhookSecret.objects.filter(pk=secret.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    secret.refresh_from_db()
    transaction.on_commit(forget_cached)
    return secret


_last_marked: dict[int, float] = {}
MARK_USED_EVERY_SECONDS = 60.0


def webhook_secret_mark_used(*, secret_id: int) -> None:
    """Record that a secret verified a request (at most once a minute per process), so ops can
    see when a rotated-out secret stopped being used."""
    now = _clock()
    with _cache_lock:
        if now - _last_marked.get(secret_id, -MARK_USED_EVERY_SECONDS) < MARK_USED_EVERY_SECONDS:
            return
        _last_marked[secret_id] = now
    WebhookSecret.objects.filter(pk=secret_id).update(last_used_at=timezone.now())


def active_secrets(*, merchant_id: int, source: str) -> list[tuple[int, bytes]]:
    """(row id, key bytes) of the active secrets, in the form the source's HMAC uses."""
    key = (merchant_id, source)
    now = _clock()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    module = verifier_for(source)
    rows = WebhookSecret.objects.filter(
        merchant_id=merchant_id, source=source, revoked_at__isnull=True
    ).order_by("-created_at")
    loaded = [(row.pk, module.normalise_secret(decrypt(row.encrypted_secret))) for row in rows]
    with _cache_lock:
        _cache[key] = (now + SECRETS_CACHE_SECONDS, loaded)
    return loaded
