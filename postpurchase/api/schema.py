"""OpenAPI pieces shared by every API app: the bearer-key security scheme and the error shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "postpurchase.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A merchant API key: `Authorization: Bearer pp_xxxxxxxx_...`",
        }


ErrorBody = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(help_text="Stable, machine-readable error code."),
                "message": serializers.CharField(help_text="What went wrong, for a person."),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    required=False,
                    help_text="Messages per dotted field path, e.g. `lines.0.quantity`.",
                ),
            },
        )
    },
)


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorBody, description=description)


COMMON_ERRORS = {
    401: error_response("Missing, invalid or revoked API key."),
    403: error_response("The key lacks the scope (`scope_missing`)."),
    429: error_response("Rate limit for this key exceeded; see `Retry-After`."),
}
READ_ERRORS = {**COMMON_ERRORS, 404: error_response("No such object for this merchant.")}
LIST_ERRORS = {**COMMON_ERRORS, 400: error_response("A filter or cursor is malformed.")}
WRITE_ERRORS = {
    **READ_ERRORS,
    400: error_response("Invalid fields; `fields` has a message per dotted path."),
    409: error_response("A request with this Idempotency-Key is still being processed."),
    422: error_response(
        "A business rule said no, or the Idempotency-Key was used for another request."
    ),
}

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID) per logical request. A retry with the same key and body "
        "gets the first answer replayed (header `Idempotent-Replayed: true`); keys live 24 h."
    ),
)
