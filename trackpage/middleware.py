"""A merchant's own domain (`Merchant.custom_domain`) serves that merchant's tracking page.

On a custom domain, a path that is not already a tracking-page path is routed to the merchant's
`/<slug>/track/...` (so `track.example-store.com/` is the lookup page). Hosts of the platform itself
(`TRACKPAGE_PLATFORM_HOSTS`) skip the lookup; others are resolved once and cached.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from postpurchase.models import Merchant

HOST_CACHE_SECONDS = 300
_PASS_THROUGH = ("/static/", "/media/", "/healthz")


def merchant_slug_for_host(host: str) -> str:
    """The slug of the active merchant whose custom domain is `host`, or ''."""
    key = f"trackpage:host:{host}"
    slug = cache.get(key)
    if slug is None:
        slug = (
            Merchant.objects.filter(custom_domain__iexact=host, is_active=True)
            .values_list("slug", flat=True)
            .first()
            or ""
        )
        cache.set(key, slug, HOST_CACHE_SECONDS)
    return str(slug)


class CustomDomainMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.platform_hosts = {h.lower() for h in settings.TRACKPAGE_PLATFORM_HOSTS}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        host = request.get_host().rsplit(":", 1)[0].lower().strip("[]")
        if host not in self.platform_hosts and not request.path_info.startswith(_PASS_THROUGH):
            slug = merchant_slug_for_host(host)
            prefix = f"/{slug}/track/"
            if slug and not request.path_info.startswith(prefix):
                request.path_info = prefix + request.path_info.lstrip("/")
                request.trackpage_custom_domain = True  # type: ignore[attr-defined]
        return self.get_response(request)
