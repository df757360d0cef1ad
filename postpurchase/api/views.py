"""The API's answer for an address it does not have: the JSON error shape, not an HTML page."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from postpurchase.api.errors import error_body


@csrf_exempt  # API clients send no CSRF token; this view changes nothing
def api_not_found(request: HttpRequest, unmatched: str = "") -> JsonResponse:
    return JsonResponse(error_body("not_found", "No such API endpoint or object."), status=404)
