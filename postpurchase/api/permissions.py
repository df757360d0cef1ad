"""API permissions: a merchant key is required, and each view may name the scope it needs."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from postpurchase.models import ApiKey


class HasMerchantApiKey(permissions.BasePermission):
    """Allow a request made with an active key that carries the view's `required_scopes`.

    A view declares `required_scopes = {"GET": "orders:read", "POST": "orders:write"}`.
    """

    message = "This API key lacks the scope this request needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        needed = getattr(view, "required_scopes", {}).get(request.method)
        if needed is None and request.method in ("HEAD", "OPTIONS"):
            needed = getattr(view, "required_scopes", {}).get("GET")
        return needed is None or needed in key.scopes


def request_merchant(request: Request) -> Any:
    """The merchant the request's API key belongs to."""
    return request.user.merchant
