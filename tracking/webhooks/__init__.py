"""Inbound webhook authentication: one module per source, a registry from source to verifier.

Each module has `verify(request, secrets) -> WebhookIdentity`, raising `SignatureError` when the
request is not signed by one of the merchant's active secrets for that source. Verification works
on the raw body bytes and compares digests in constant time; it never parses JSON before the
signature holds, except to read the source's event id afterwards.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from tracking.webhooks.signing import SignatureError, WebhookIdentity, WebhookRequest

VERIFIER_MODULES = {
    "easypost": "tracking.webhooks.easypost",
    "aftership": "tracking.webhooks.aftership",
    "shippo": "tracking.webhooks.shippo",
    "shopify": "tracking.webhooks.shopify",
    "generic": "tracking.webhooks.generic",
}

__all__ = ["SignatureError", "WebhookIdentity", "WebhookRequest", "verifier_for"]


@cache
def verifier_for(source: str) -> ModuleType:
    """The verification module of a source (KeyError for an unknown source)."""
    return importlib.import_module(VERIFIER_MODULES[source])
