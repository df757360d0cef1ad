"""HTTP clients for the pollable carriers' tracking APIs (UPS, FedEx, USPS, DHL).

Each client authenticates as its carrier does (OAuth 2 client credentials with the token cached
until shortly before it expires for UPS, FedEx and USPS; an API key header for DHL), spends the
carrier's shared request budget (`tracking.carriers.rate_limit`), and turns the answer into our
events with the carrier's adapter. Failures come out as the platform's integration errors:
timeouts, connection errors, 5xx and 429 are `TransientIntegrationError` (429 with `retry_after`
from `Retry-After`, which also pauses every worker); other 4xx are `PermanentIntegrationError`.
A 404 whose body is the carrier's own JSON "not found" means no scans yet: an empty list.

Base URLs, credentials and budgets come from settings (`CARRIER_API_BASE_URLS`,
`CARRIER_API_CREDENTIALS`, `CARRIER_API_RATE_LIMITS`, `CARRIER_API_TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import requests
from django.conf import settings
from django.core.cache import cache

from postpurchase.errors import PermanentIntegrationError, TransientIntegrationError
from tracking.carriers import get_adapter, rate_limit
from tracking.domain import CarrierParseError, ParsedEvent

# Refresh a cached token this long before the carrier says it expires.
TOKEN_EXPIRY_MARGIN_SECONDS = 60
USER_AGENT = "postpurchase-tracking/1.0"


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class CarrierClient:
    """Base client: budget, HTTP, error mapping and parsing; subclasses say how to ask."""

    carrier: ClassVar[str]
    credential_fields: ClassVar[tuple[str, ...]]
    renews_auth: ClassVar[bool] = False  # a 401 means a stale token worth renewing once

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        limit: rate_limit.RateLimit,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        missing = [name for name in self.credential_fields if not credentials.get(name)]
        if missing:
            raise PermanentIntegrationError(
                f"{self.carrier}: missing credentials {', '.join(missing)}"
            )
        self.base_url = base_url.rstrip("/")
        self.credentials = dict(credentials)
        self.limit = limit
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    # --- what subclasses provide ----------------------------------------------------------
    def track_request(self, tracking_number: str) -> dict[str, Any]:
        """Keyword arguments for `requests.Session.request` that ask for one number."""
        raise NotImplementedError

    def auth_headers(self) -> dict[str, str]:
        return {}

    def forget_auth(self) -> None:
        """Drop cached authentication (after a 401) so the next request renews it."""

    # --- shared behaviour ------------------------------------------------------------------
    def fetch(self, tracking_number: str) -> list[ParsedEvent]:
        """The carrier's scans for `tracking_number` as our events (empty when none yet)."""
        response = self._send(tracking_number)
        if response.status_code == 401 and self.renews_auth:
            self.forget_auth()
            response = self._send(tracking_number)
        if response.status_code == 404 and self._is_json(response):
            return []
        self.raise_for_status(response)
        try:
            payload = response.json()
        except ValueError:
            raise PermanentIntegrationError(f"{self.carrier}: answer is not JSON") from None
        try:
            return get_adapter(self.carrier).parse(payload)
        except CarrierParseError as error:
            raise PermanentIntegrationError(
                f"{self.carrier}: unreadable answer: {error}"
            ) from error

    def _send(self, tracking_number: str) -> requests.Response:
        request = self.track_request(tracking_number)
        headers = {
            "Accept": "application/json",
            **self.auth_headers(),
            **request.pop("headers", {}),
        }
        return self.request(headers=headers, **request)

    def request(self, **kwargs: Any) -> requests.Response:
        """One budgeted HTTP request; network failures become transient errors."""
        try:
            rate_limit.acquire(self.carrier, self.limit)
        except rate_limit.RateLimited as limited:
            raise TransientIntegrationError(str(limited), retry_after=limited.retry_after) from None
        try:
            return self.session.request(timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise TransientIntegrationError(
                f"{self.carrier}: timed out after {self.timeout}s"
            ) from None
        except requests.ConnectionError as error:
            raise TransientIntegrationError(f"{self.carrier}: connection failed: {error}") from None

    def raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        snippet = response.text[:300]
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is not None:
                rate_limit.pause(self.carrier, wait)
            raise TransientIntegrationError(f"{self.carrier}: rate limited (429)", retry_after=wait)
        if status >= 500:
            raise TransientIntegrationError(f"{self.carrier}: server error {status}: {snippet}")
        raise PermanentIntegrationError(f"{self.carrier}: request refused {status}: {snippet}")

    @staticmethod
    def _is_json(response: requests.Response) -> bool:
        try:
            response.json()
        except ValueError:
            return False
        return True


class OAuthClient(CarrierClient):
    """Carriers using OAuth 2 client credentials; the token is shared by workers via the cache."""

    credential_fields = ("client_id", "client_secret")
    renews_auth = True
    oauth_path: ClassVar[str]

    def token_request(self) -> dict[str, Any]:
        raise NotImplementedError

    def _token_key(self) -> str:
        digest = hashlib.sha256(self.credentials["client_id"].encode()).hexdigest()[:16]
        return f"carriers:token:{self.carrier}:{digest}"

    def forget_auth(self) -> None:
        cache.delete(self._token_key())

    def access_token(self) -> str:
        """A valid bearer token, from the cache or freshly granted."""
        # The expiry travels with the token and is checked here, so renewal does not depend on
        # the cache backend's own clock (Redis expires keys by its wall time, not ours).
        cached = cache.get(self._token_key())
        if isinstance(cached, dict) and cached.get("expires_at", 0) > time.time():
            return str(cached["token"])
        response = self.request(
            method="POST", url=f"{self.base_url}{self.oauth_path}", **self.token_request()
        )
        if response.status_code in {400, 401, 403}:
            refused = f"credentials refused ({response.status_code}): {response.text[:200]}"
            raise PermanentIntegrationError(f"{self.carrier}: {refused}")
        self.raise_for_status(response)
        try:
            grant = response.json()
            token = str(grant["access_token"])
            lifetime = int(grant.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise PermanentIntegrationError(f"{self.carrier}: unreadable token answer") from None
        usable_for = max(1, lifetime - TOKEN_EXPIRY_MARGIN_SECONDS)
        cache.set(
            self._token_key(),
            {"token": token, "expires_at": time.time() + usable_for},
            timeout=usable_for,
        )
        return token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token()}"}


class UPSClient(OAuthClient):
    """UPS Track API v1: `GET /api/track/v1/details/{inquiryNumber}`."""

    carrier = "ups"
    oauth_path = "/security/v1/oauth/token"

    def token_request(self) -> dict[str, Any]:
        return {
            "data": {"grant_type": "client_credentials"},
            "auth": (self.credentials["client_id"], self.credentials["client_secret"]),
        }

    def track_request(self, tracking_number: str) -> dict[str, Any]:
        return {
            "method": "GET",
            "url": f"{self.base_url}/api/track/v1/details/{tracking_number}",
            "params": {"locale": "en_US", "returnSignature": "false"},
            "headers": {"transId": uuid.uuid4().hex, "transactionSrc": "postpurchase"},
        }


class FedExClient(OAuthClient):
    """FedEx Track API v1: `POST /track/v1/trackingnumbers`."""

    carrier = "fedex"
    oauth_path = "/oauth/token"

    def token_request(self) -> dict[str, Any]:
        return {
            "data": {
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
            }
        }

    def track_request(self, tracking_number: str) -> dict[str, Any]:
        return {
            "method": "POST",
            "url": f"{self.base_url}/track/v1/trackingnumbers",
            "json": {
                "includeDetailedScans": True,
                "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": tracking_number}}],
            },
            "headers": {"X-locale": "en_US"},
        }


class USPSClient(OAuthClient):
    """USPS Tracking v3: `GET /tracking/v3/tracking/{trackingNumber}?expand=DETAIL`."""

    carrier = "usps"
    oauth_path = "/oauth2/v3/token"

    def token_request(self) -> dict[str, Any]:
        return {
            "json": {
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
            }
        }

    def track_request(self, tracking_number: str) -> dict[str, Any]:
        return {
            "method": "GET",
            "url": f"{self.base_url}/tracking/v3/tracking/{tracking_number}",
            "params": {"expand": "DETAIL"},
        }


class DHLClient(CarrierClient):
    """DHL Shipment Tracking - Unified: `GET /track/shipments?trackingNumber=`, `DHL-API-Key`."""

    carrier = "dhl"
    credential_fields = ("api_key",)

    def auth_headers(self) -> dict[str, str]:
        return {"DHL-API-Key": self.credentials["api_key"]}

    def track_request(self, tracking_number: str) -> dict[str, Any]:
        return {
            "method": "GET",
            "url": f"{self.base_url}/track/shipments",
            "params": {"trackingNumber": tracking_number},
        }


CLIENT_CLASSES: dict[str, type[CarrierClient]] = {
    "ups": UPSClient,
    "fedex": FedExClient,
    "usps": USPSClient,
    "dhl": DHLClient,
}

DEFAULT_RATE_LIMIT = rate_limit.RateLimit(rate_per_second=5.0, burst=10)


def client_for(carrier: str, *, session: requests.Session | None = None) -> CarrierClient:
    """The configured client for `carrier`; PermanentIntegrationError if it is not configured."""
    if carrier not in CLIENT_CLASSES:
        raise PermanentIntegrationError(f"no tracking API client for carrier {carrier!r}")
    base_urls: Mapping[str, str] = getattr(settings, "CARRIER_API_BASE_URLS", {})
    if not base_urls.get(carrier):
        raise PermanentIntegrationError(f"{carrier}: CARRIER_API_BASE_URLS has no URL")
    limits: Mapping[str, Mapping[str, float]] = getattr(settings, "CARRIER_API_RATE_LIMITS", {})
    limit = DEFAULT_RATE_LIMIT
    if carrier in limits:
        limit = rate_limit.RateLimit(
            rate_per_second=float(limits[carrier]["rate_per_second"]),
            burst=int(limits[carrier]["burst"]),
        )
    credentials: Mapping[str, Mapping[str, str]] = getattr(settings, "CARRIER_API_CREDENTIALS", {})
    return CLIENT_CLASSES[carrier](
        base_url=base_urls[carrier],
        credentials=credentials.get(carrier, {}),
        limit=limit,
        timeout=float(getattr(settings, "CARRIER_API_TIMEOUT_SECONDS", 10.0)),
        session=session,
    )


def clients() -> dict[str, CarrierClient]:
    """A client for every carrier whose credentials are configured (the others are not polled)."""
    configured: dict[str, CarrierClient] = {}
    for carrier in CLIENT_CLASSES:
        try:
            configured[carrier] = client_for(carrier)
        except PermanentIntegrationError:
            continue
    return configured
