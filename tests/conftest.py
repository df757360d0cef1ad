"""Shared fixtures: two look-alike merchants, eager Celery by default, real-service markers.

Tests marked `postgres`, `broker`, `redis_cache` or `browser` run when that service is there and
skip otherwise; with REQUIRE_SERVICES=1 (CI) a missing service is an error instead of a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from django.conf import settings

from postpurchase.celery import app as celery_app

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

# The real-worker fixtures (`worker`, `web_side`) for every test that needs them.
pytest_plugins = ["tests.worker_support"]


def _service_missing(marker: str) -> str | None:
    if marker == "postgres" and not settings.IS_POSTGRES:
        return "needs PostgreSQL (set DATABASE_URL=postgres://...)"
    if marker == "broker" and not settings.CELERY_BROKER_URL:
        return "needs a Celery broker (set CELERY_BROKER_URL=redis://...)"
    if marker == "redis_cache" and "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        return "needs the Redis cache (set CACHE_URL=rediscache://...)"
    if marker == "browser" and not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "needs headless Chromium (apt-get install chromium)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "broker", "redis_cache", "browser"):
        if item.get_closest_marker(marker) is None:
            continue
        missing = _service_missing(marker)
        if missing is None:
            continue
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but this test {missing}")
        pytest.skip(missing)


@pytest.fixture(autouse=True)
def _eager_celery(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run tasks in-process unless the test talks to a real worker."""
    if request.node.get_closest_marker("broker"):
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    """Staff logins in tests hash with MD5: PBKDF2's deliberate cost is for production."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_cache() -> Iterator[None]:
    from django.core.cache import cache

    from trackpage.selectors import page_merchants_forget

    cache.clear()
    page_merchants_forget()  # the per-process memo in front of the cache
    yield
    cache.clear()
    page_merchants_forget()


@pytest.fixture(autouse=True)
def _edge_connection_closed() -> Iterator[None]:
    """The webhook edge keeps a connection per process (tracking.edge_commit): close it after
    each test, so no test inherits it and the test database can be dropped at the end."""
    yield
    from tracking.edge_commit import close_connection

    close_connection()


@pytest.fixture
def merchant_a(db):  # type: ignore[no-untyped-def]
    from tests.factories import MerchantFactory

    return MerchantFactory(name="Aurora Outfitters", slug="aurora", currency="USD", country="US")


@pytest.fixture
def merchant_b(db):  # type: ignore[no-untyped-def]
    from tests.factories import MerchantFactory

    return MerchantFactory(
        name="Aurora Outfitters JP",
        slug="aurora-jp",
        currency="JPY",
        country="JP",
        time_zone="Asia/Tokyo",
        default_language="ja",
    )


@pytest.fixture
def api_key_a(merchant_a):  # type: ignore[no-untyped-def]
    """merchant_a's key with every scope; `.secret` is the bearer token."""
    from tests.factories import ApiKeyFactory

    return ApiKeyFactory(merchant=merchant_a)


@pytest.fixture
def api_key_b(merchant_b):  # type: ignore[no-untyped-def]
    from tests.factories import ApiKeyFactory

    return ApiKeyFactory(merchant=merchant_b)


def _api_client(secret: str):  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api_client_a(api_key_a):  # type: ignore[no-untyped-def]
    """An API client authenticated as merchant_a with every scope."""
    return _api_client(api_key_a.secret)


@pytest.fixture
def api_client_b(api_key_b):  # type: ignore[no-untyped-def]
    return _api_client(api_key_b.secret)


@pytest.fixture
def api_client_with_scopes(merchant_a):  # type: ignore[no-untyped-def]
    """Build a merchant_a client whose key carries only the given scopes."""
    from tests.factories import ApiKeyFactory

    def build(*scopes: str):  # type: ignore[no-untyped-def]
        return _api_client(ApiKeyFactory(merchant=merchant_a, scopes=list(scopes)).secret)

    return build


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless system Chromium through Playwright (tests marked `browser`)."""
    from playwright.sync_api import sync_playwright

    from tests.browser_support import launch_chromium

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
