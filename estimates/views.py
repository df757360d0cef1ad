"""Public pages of the estimates app: the sentences of the embeddable script, per language."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from estimates import messages


@require_GET
def widget_strings(request: HttpRequest, language: str) -> JsonResponse:
    """The embeddable script's sentences in one language."""
    if language not in messages.STRINGS:
        raise Http404("No such language.")
    response = JsonResponse(messages.STRINGS[language], json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    return response
