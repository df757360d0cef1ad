"""One JSON error shape for every API error.

    {"error": {"code": "validation_error", "message": "...",
               "fields": {"customer.phone": ["Enter a valid E.164 phone number."]}}}

Field paths are dotted (`lines.0.quantity`), so a client can point at the exact input.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from postpurchase.errors import DomainError, NotFoundError, PlatformErrorCode

# Domain errors answered with something other than 422 (a broken business rule).
DOMAIN_ERROR_STATUS = {
    str(PlatformErrorCode.IDEMPOTENCY_KEY_IN_FLIGHT): status.HTTP_409_CONFLICT,
    "invalid_idempotency_key": status.HTTP_400_BAD_REQUEST,
}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                path = prefix or "non_field_errors"
            for k, v in _flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(d, dict | list) for d in detail):
            out[prefix or "non_field_errors"] = [str(d) for d in detail]
        else:
            for i, item in enumerate(detail):
                if item:
                    out.update(_flatten(item, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, NotFoundError):
        return Response(error_body(exc.code, exc.message), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DomainError):
        # Services that check many values at once attach all messages as `fields`.
        fields = getattr(exc, "fields", None) or ({exc.field: [exc.message]} if exc.field else None)
        http_status = DOMAIN_ERROR_STATUS.get(exc.code)
        if http_status is None:
            http_status = 400 if getattr(exc, "fields", None) else 422
        return Response(error_body(exc.code, exc.message, fields), status=http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(
            "validation_error", "The request has invalid fields.", _flatten(exc.detail)
        )
    else:
        detail = exc.detail
        code = detail.code if hasattr(detail, "code") else exc.default_code
        response.data = error_body(str(code), str(detail))
    return response
