"""The CSRF token of a page view, as `django.middleware.csrf.get_token` makes it, but cheaper.

Django draws each of the 32 characters of the mask (and of a new secret) with its own
`secrets.choice`, an `os.urandom` call each: 64 on a visitor's first page with a rating form,
about 8 % of a page view. Here each string comes from one `secrets.token_bytes` read, mapped to
the same alphabet by rejection (bytes below 248 = 4 x 62, taken modulo 62): every character is
still uniform and independent, from the same operating-system source, so the token is as hard
to guess as Django's. The token's format, the secret kept in the cookie and the request flags
are Django's own, so `CsrfViewMiddleware` checks it unchanged (tests/trackpage/test_csrf_tokens.py).
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH

_CHARS = CSRF_ALLOWED_CHARS
_COUNT = len(_CHARS)
_LIMIT = 256 - 256 % _COUNT  # bytes at or above it would favour the first characters
_INDEX = {char: i for i, char in enumerate(_CHARS)}


def random_string(length: int = CSRF_SECRET_LENGTH) -> str:
    """`length` characters of Django's CSRF alphabet, each uniform, from `secrets`."""
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(_CHARS[b % _COUNT] for b in secrets.token_bytes(length + 8) if b < _LIMIT)
    return "".join(chars[:length])


def get_token(request: HttpRequest) -> str:
    """`django.middleware.csrf.get_token`: the request's secret (a new one, set in the cookie by
    the middleware, when it has none) masked with a new random mask."""
    meta = request.META
    secret = meta.get("CSRF_COOKIE")
    if "CSRF_COOKIE" not in meta or not isinstance(secret, str):
        secret = meta["CSRF_COOKIE"] = random_string()
    # As Django's: the cookie is sent (again) so its expiry is renewed.
    meta["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = random_string()
    cipher = "".join(
        _CHARS[(_INDEX[s] + _INDEX[m]) % _COUNT] for s, m in zip(secret, mask, strict=True)
    )
    return mask + cipher
