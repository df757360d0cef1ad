"""The project's URLs plus `/bench/bare/`: a bare Django JSON view served the same way."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from postpurchase.urls import urlpatterns as project_urlpatterns


@csrf_exempt
@require_POST
def bare(request: HttpRequest) -> JsonResponse:
    """Reads the body and answers JSON: the floor any webhook view stands on."""
    return JsonResponse({"ok": True, "bytes": len(request.body)}, status=202)


urlpatterns = [path("bench/bare/", bare), *project_urlpatterns]
