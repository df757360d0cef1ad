"""API permissions: a merchant key is required, and each view may name the scope it needs."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from postpurchase.models import ApiKey, Merchant


class HasMerchantApiKey(permissions.BasePermission):
    """Allow a request made with an active key that carries the view's `required_scopes`.

    A view declares `required_scopes = {"GET": "orders:read", "POST": "orders:write"}`.
    A method the view does not map is refused (fail closed): a new endpoint that forgets its
    scope is closed to every key rather than open to all.
    """

    message = "This API key lacks the scope this request needs."
    code = "scope_missing"

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        needed = getattr(view, "required_scopes", {}).get(request.method)
        if needed is None and request.method in ("HEAD", "OPTIONS"):
            needed = getattr(view, "required_scopes", {}).get("GET")
        if needed is None:
            return False
        return needed in key.scopes


def request_merchant(request: Request) -> Merchant:
    """The merchant the request's API key belongs to (the permission has checked the key)."""
    key = request.auth
    if not isinstance(key, ApiKey):
        raise exceptions.NotAuthenticated()
    return key.merchant
