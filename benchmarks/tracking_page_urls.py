"""The project's URLs plus `/bench/bare/`: a bare Django JSON view served the same way."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET

from postpurchase.urls import urlpatterns as project_urlpatterns


@require_GET
def bare(request: HttpRequest) -> JsonResponse:
    """No database, no template: the floor any page view stands on."""
    return JsonResponse({"ok": True, "path": request.path})


urlpatterns = [path("bench/bare/", bare), *project_urlpatterns]
