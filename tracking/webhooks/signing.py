"""The shared pieces of webhook authentication: the request we verify and constant-time HMACs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class SignatureError(Exception):
    """The request is not authentic: no secret, missing header, or a digest that does not match."""


@dataclass(frozen=True)
class WebhookRequest:
    """What verification sees of a request: the raw body and lower-cased header names."""

    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    received_at: datetime | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "").strip()


@dataclass(frozen=True)
class WebhookIdentity:
    """Who sent it and which event it is: the storage key of the delivery."""

    topic: str
    unique_key: str
    secret_index: int  # which of the active secrets matched (for last-used bookkeeping)


def hmac_sha256(secret: bytes, message: bytes) -> bytes:
    return hmac.new(secret, message, hashlib.sha256).digest()


def matching_secret(
    secrets: Sequence[bytes], message: bytes, presented: Sequence[bytes]
) -> int | None:
    """Index of the first secret whose HMAC-SHA256 of `message` equals one presented digest.

    Every secret and every presented digest is compared (no early exit on a mismatch) so timing
    does not reveal which one came close.
    """
    found: int | None = None
    for index, secret in enumerate(secrets):
        expected = hmac_sha256(secret, message)
        for digest in presented:
            if hmac.compare_digest(expected, digest) and found is None:
                found = index
    return found


def decode_base64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return b""


def decode_hex(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def json_field(body: bytes, *path: str) -> str:
    """A string field of a JSON body ("" when the body is not JSON or lacks it)."""
    try:
        value: Any = json.loads(body)
    except ValueError:
        return ""
    for key in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(key)
    return _as_text(value)


def json_fields(body: bytes, *keys: str) -> list[str]:
    """Top-level string fields of a JSON body, parsed once ("" for each the body lacks)."""
    try:
        value: Any = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return [""] * len(keys)
    return [_as_text(value.get(key)) for key in keys]


def _as_text(value: Any) -> str:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)[:120]
    return ""


def require_secrets(secrets: Sequence[bytes], source: str) -> None:
    if not secrets:
        raise SignatureError(f"no active {source} webhook secret is configured for this merchant")
