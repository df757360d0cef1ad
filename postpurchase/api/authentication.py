"""Bearer API-key authentication: `Authorization: Bearer pp_xxxx_...` resolves the merchant."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from postpurchase.api_keys import api_key_authenticate
from postpurchase.errors import DomainError
from postpurchase.models import ApiKey


class MerchantPrincipal:
    """The authenticated caller: a merchant acting through one API key."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.merchant = api_key.merchant

    def __str__(self) -> str:
        return f"{self.merchant.slug}:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        try:
            key = api_key_authenticate(secret=parts[1])
        except DomainError as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        return MerchantPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
