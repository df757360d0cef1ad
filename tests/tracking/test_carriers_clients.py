"""Carrier API clients against recorded responses (`responses`), never the internet."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import responses
import time_machine
from django.test import override_settings
from responses import matchers

from postpurchase.errors import PermanentIntegrationError, TransientIntegrationError
from tracking.carriers import rate_limit
from tracking.carriers.clients import (
    DHLClient,
    FedExClient,
    UPSClient,
    USPSClient,
    client_for,
    clients,
    retry_after_seconds,
)
from tracking.domain import ShipmentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
GENEROUS = rate_limit.RateLimit(rate_per_second=1000, burst=1000)
UPS_BASE = "https://ups.test"
UPS_NUMBER = "1Z5R89390357567127"
UPS_TRACK = f"{UPS_BASE}/api/track/v1/details/{UPS_NUMBER}"
UPS_TOKEN = f"{UPS_BASE}/security/v1/oauth/token"


def _fixture(name: str) -> object:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _ups(limit: rate_limit.RateLimit = GENEROUS) -> UPSClient:
    return UPSClient(
        base_url=UPS_BASE,
        credentials={"client_id": "ups-id", "client_secret": "ups-secret"},
        limit=limit,
        timeout=2,
    )


def _grant(bearer: str = "tok-1", expires_in: int = 3600) -> dict:
    return {"access_token": bearer, "token_type": "Bearer", "expires_in": expires_in}


@responses.activate
def test_ups_fetch_authenticates_once_and_parses_events():
    token = responses.post(
        UPS_TOKEN,
        json=_grant(),
        match=[
            matchers.urlencoded_params_matcher({"grant_type": "client_credentials"}),
            matchers.header_matcher({"Authorization": "Basic dXBzLWlkOnVwcy1zZWNyZXQ="}),
        ],
    )
    track = responses.get(
        UPS_TRACK,
        json=_fixture("ups_exception_then_delivered.json"),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})],
    )
    client = _ups()
    first = client.fetch(UPS_NUMBER)
    second = client.fetch(UPS_NUMBER)
    assert first[-1].status is ShipmentStatus.DELIVERED
    assert first == second
    assert token.call_count == 1
    assert track.call_count == 2
    assert track.calls[0].request.headers["transId"]


@responses.activate
def test_token_is_shared_through_the_cache_and_renewed_before_expiry():
    token = responses.post(UPS_TOKEN, json=_grant(expires_in=600))
    responses.get(UPS_TRACK, json=_fixture("ups_exception_then_delivered.json"))
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False) as clock:
        _ups().fetch(UPS_NUMBER)
        _ups().fetch(UPS_NUMBER)  # another worker's client: same cached token
        assert token.call_count == 1
        clock.shift(600 - 30)  # inside the 60 s margin before expiry
        _ups().fetch(UPS_NUMBER)
    assert token.call_count == 2


@responses.activate
def test_rejected_token_is_renewed_once_and_the_request_retried():
    responses.post(UPS_TOKEN, json=_grant("stale"))
    responses.post(UPS_TOKEN, json=_grant("fresh"))
    responses.get(UPS_TRACK, status=401, json={"response": {"errors": [{"code": "250002"}]}})
    responses.get(
        UPS_TRACK,
        json=_fixture("ups_exception_then_delivered.json"),
        match=[matchers.header_matcher({"Authorization": "Bearer fresh"})],
    )
    assert _ups().fetch(UPS_NUMBER)


@responses.activate
def test_refused_credentials_are_permanent():
    responses.post(UPS_TOKEN, status=401, json={"response": {"errors": [{"code": "10401"}]}})
    with pytest.raises(PermanentIntegrationError, match="credentials refused"):
        _ups().fetch(UPS_NUMBER)


@responses.activate
def test_429_is_transient_with_retry_after_and_pauses_every_worker():
    responses.post(UPS_TOKEN, json=_grant())
    track = responses.get(UPS_TRACK, status=429, headers={"Retry-After": "30"})
    with pytest.raises(TransientIntegrationError) as error:
        _ups().fetch(UPS_NUMBER)
    assert error.value.retry_after == 30
    with pytest.raises(TransientIntegrationError) as paused:
        _ups().fetch(UPS_NUMBER)
    assert 0 < paused.value.retry_after <= 30
    assert track.call_count == 1  # the second fetch did not reach the carrier


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (503, "Service Unavailable", TransientIntegrationError),
        (500, '{"response": {}}', TransientIntegrationError),
        (400, '{"response": {"errors": [{"code": "151018"}]}}', PermanentIntegrationError),
        (403, "Forbidden", PermanentIntegrationError),
        (404, "<html>Not Found</html>", PermanentIntegrationError),
        (200, "not json", PermanentIntegrationError),
        (200, '{"unexpected": true}', PermanentIntegrationError),
    ],
)
@responses.activate
def test_http_failures_map_to_integration_error_families(status, body, error):
    responses.post(UPS_TOKEN, json=_grant())
    responses.get(UPS_TRACK, status=status, body=body)
    with pytest.raises(error):
        _ups().fetch(UPS_NUMBER)


@pytest.mark.parametrize("failure", [requests.Timeout("slow"), requests.ConnectionError("reset")])
@responses.activate
def test_network_failures_are_transient(failure):
    responses.post(UPS_TOKEN, json=_grant())
    responses.get(UPS_TRACK, body=failure)
    with pytest.raises(TransientIntegrationError):
        _ups().fetch(UPS_NUMBER)


@responses.activate
def test_carrier_json_404_means_no_scans_yet():
    responses.post(UPS_TOKEN, json=_grant())
    not_found = {"response": {"errors": [{"code": "151044", "message": "No tracking information"}]}}
    responses.get(UPS_TRACK, status=404, json=not_found)
    assert _ups().fetch(UPS_NUMBER) == []


@responses.activate
def test_fedex_posts_the_number_and_reads_scan_events():
    responses.post(
        "https://fedex.test/oauth/token",
        json=_grant("fx"),
        match=[
            matchers.urlencoded_params_matcher(
                {"grant_type": "client_credentials", "client_id": "fx-id", "client_secret": "fx-s"}
            )
        ],
    )
    responses.post(
        "https://fedex.test/track/v1/trackingnumbers",
        json=_fixture("fedex_delivery_exception.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "includeDetailedScans": True,
                    "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": "986578788855"}}],
                }
            ),
            matchers.header_matcher({"Authorization": "Bearer fx"}),
        ],
    )
    client = FedExClient(
        base_url="https://fedex.test/",
        credentials={"client_id": "fx-id", "client_secret": "fx-s"},
        limit=GENEROUS,
    )
    events = client.fetch("986578788855")
    assert [e.carrier_code for e in events][-1] == "DL"


@responses.activate
def test_usps_requests_a_token_with_json_and_expands_detail():
    responses.post(
        "https://usps.test/oauth2/v3/token",
        json=_grant("us"),
        match=[
            matchers.json_params_matcher(
                {"grant_type": "client_credentials", "client_id": "u", "client_secret": "s"}
            )
        ],
    )
    responses.get(
        "https://usps.test/tracking/v3/tracking/9400111201080805483016",
        json=_fixture("usps_attempt_then_pickup.json")[0],
        match=[matchers.query_param_matcher({"expand": "DETAIL"})],
    )
    client = USPSClient(
        base_url="https://usps.test",
        credentials={"client_id": "u", "client_secret": "s"},
        limit=GENEROUS,
    )
    assert client.fetch("9400111201080805483016")[-1].status is ShipmentStatus.DELIVERED


@responses.activate
def test_dhl_sends_the_api_key_and_treats_its_problem_404_as_no_scans():
    responses.get(
        "https://dhl.test/track/shipments",
        json=_fixture("dhl_customs_failure_delivered.json"),
        match=[
            matchers.query_param_matcher({"trackingNumber": "3318810025"}),
            matchers.header_matcher(
                {"DHL-API-Key": "dhl-key", "User-Agent": "postpurchase-tracking/1.0"}
            ),
        ],
    )
    responses.get(
        "https://dhl.test/track/shipments",
        status=404,
        json={"title": "No shipment with given tracking number found.", "status": 404},
        match=[matchers.query_param_matcher({"trackingNumber": "1099255990"})],
    )
    client = DHLClient(
        base_url="https://dhl.test", credentials={"api_key": "dhl-key"}, limit=GENEROUS
    )
    assert client.fetch("3318810025")[-1].status is ShipmentStatus.DELIVERED
    assert client.fetch("1099255990") == []


@responses.activate
def test_a_refused_api_key_is_permanent_and_not_retried():
    call = responses.get("https://dhl.test/track/shipments", status=401, json={"status": 401})
    client = DHLClient(base_url="https://dhl.test", credentials={"api_key": "old"}, limit=GENEROUS)
    with pytest.raises(PermanentIntegrationError, match="refused 401"):
        client.fetch("3318810025")
    assert call.call_count == 1


def test_missing_credentials_are_refused_at_construction():
    with pytest.raises(PermanentIntegrationError, match="client_secret"):
        UPSClient(base_url=UPS_BASE, credentials={"client_id": "x"}, limit=GENEROUS)


@responses.activate
def test_budget_is_spent_before_the_request_and_refills():
    track = responses.get(
        "https://dhl.test/track/shipments", json=_fixture("dhl_customs_failure_delivered.json")
    )
    tight = rate_limit.RateLimit(rate_per_second=1, burst=2)
    client = DHLClient(base_url="https://dhl.test", credentials={"api_key": "k"}, limit=tight)
    with time_machine.travel(
        datetime(2026, 11, 23, 12, 0, 0, 100_000, tzinfo=UTC), tick=False
    ) as clock:
        client.fetch("3318810025")
        client.fetch("3318810025")
        with pytest.raises(TransientIntegrationError) as limited:
            client.fetch("3318810025")
        assert 0 < limited.value.retry_after <= 2
        assert track.call_count == 2
        clock.shift(2 * tight.window_seconds)
        client.fetch("3318810025")
    assert track.call_count == 3


def test_sliding_window_does_not_double_the_burst_at_a_window_boundary():
    limit = rate_limit.RateLimit(rate_per_second=10, burst=10)  # window of 1 s
    for _ in range(10):
        rate_limit.acquire("boundary", limit, now=1000.95)
    # Just after the boundary most of the previous window still counts.
    with pytest.raises(rate_limit.RateLimited):
        rate_limit.acquire("boundary", limit, now=1001.05)
    granted = 0
    for _ in range(10):
        try:
            rate_limit.acquire("boundary", limit, now=1001.5)
            granted += 1
        except rate_limit.RateLimited:
            break
    assert granted == 5  # half the previous window has slid out


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("Wed, 23 Nov 2026 12:01:00 GMT", 60.0),
        ("Wed, 23 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header, seconds):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(header, now=now) == seconds


@override_settings(
    CARRIER_API_BASE_URLS={"ups": "https://ups.test", "dhl": "https://dhl.test", "usps": ""},
    CARRIER_API_CREDENTIALS={
        "ups": {"client_id": "a", "client_secret": "b"},
        "dhl": {"api_key": ""},
    },
    CARRIER_API_RATE_LIMITS={"ups": {"rate_per_second": 2, "burst": 4}},
    CARRIER_API_TIMEOUT_SECONDS=3,
)
def test_only_configured_carriers_get_a_client():
    configured = clients()
    assert set(configured) == {"ups"}
    ups = client_for("ups")
    assert ups.base_url == "https://ups.test"
    assert ups.limit == rate_limit.RateLimit(rate_per_second=2, burst=4)
    assert ups.timeout == 3
    with pytest.raises(PermanentIntegrationError, match="no tracking API client"):
        client_for("yamato")
