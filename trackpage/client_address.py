"""The client's address as the platform sees it, behind `TRACKPAGE_TRUSTED_PROXY_COUNT` proxies.

Each trusted proxy appends the address it received the request from to X-Forwarded-For; the
entry written by the outermost trusted proxy is the real client, and anything to its left was
supplied by the client (and can be forged), so it is never used.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address rate limits key on: REMOTE_ADDR, or the trusted proxies' X-Forwarded-For."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = int(getattr(settings, "TRACKPAGE_TRUSTED_PROXY_COUNT", 0))
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        # Fewer hops than proxies: the request skipped a proxy; key on what connected to us.
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
