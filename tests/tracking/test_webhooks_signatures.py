"""Webhook authentication per source: only a request signed over its raw bytes is stored."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

import pytest
from django.utils import timezone

from tracking.models import InboundWebhook, WebhookSecret
from tracking.webhooks import aftership, easypost, generic, secrets, shippo, shopify
from tracking.webhooks.secrets import forget_cached, webhook_secret_add, webhook_secret_revoke

pytestmark = pytest.mark.django_db

SECRET = "s3cret-0123456789abcdef"
OLD_SECRET = "old-secret-0123456789ab"
WRONG = "wrong-secret-0123456789"

Signer = Callable[[bytes, str], dict[str, str]]

SIGNERS: dict[str, Signer] = {
    "easypost": easypost.sign,
    "aftership": aftership.sign,
    "shippo": shippo.sign,
    "generic": generic.sign,
    "shopify": lambda body, secret: shopify.sign(
        body, secret, topic="orders/create", webhook_id=f"wh-{hashlib.sha256(body).hexdigest()[:8]}"
    ),
}
SIGNATURE_HEADERS = {
    "easypost": easypost.HEADER,
    "aftership": aftership.HEADER,
    "shippo": shippo.HEADER,
    "generic": generic.HEADER,
    "shopify": shopify.HEADER,
}
BODY = json.dumps(
    {"id": "evt_1", "event": "tracking_update", "description": "tracker.updated", "n": [1, 2]},
    separators=(",", ":"),
).encode()


@pytest.fixture(autouse=True)
def _fresh_secret_cache():
    forget_cached()
    yield
    forget_cached()


@pytest.fixture
def _quiet_processing(monkeypatch):
    """These tests are about the edge; processing is covered elsewhere."""
    monkeypatch.setattr("tracking.ingest.schedule_processing", lambda: None)


def post(client, source: str, body: bytes, headers: dict[str, str], slug: str = "aurora"):
    return client.post(
        f"/webhooks/{source}/{slug}/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


CASES = [
    # (case, signing secret, body sent instead of the signed one, headers dropped) -> status
    ("valid", SECRET, None, False, 202),
    ("tampered body", SECRET, BODY.replace(b"evt_1", b"evt_2"), False, 401),
    ("wrong secret", WRONG, None, False, 401),
    ("rotated: old secret still active", OLD_SECRET, None, False, 202),
    ("missing header", SECRET, None, True, 401),
    ("re-serialised JSON", SECRET, json.dumps(json.loads(BODY), indent=1).encode(), False, 401),
]


@pytest.mark.usefixtures("_quiet_processing")
@pytest.mark.parametrize("source", sorted(SIGNERS))
@pytest.mark.parametrize(("case", "secret", "sent", "drop_header", "status"), CASES)
def test_signature_table(client, merchant_a, source, case, secret, sent, drop_header, status):
    webhook_secret_add(merchant=merchant_a, source=source, secret=OLD_SECRET, label="old")
    webhook_secret_add(merchant=merchant_a, source=source, secret=SECRET, label="new")
    headers = SIGNERS[source](BODY, secret)
    if drop_header:
        headers.pop(SIGNATURE_HEADERS[source])
    response = post(client, source, sent if sent is not None else BODY, headers)
    assert response.status_code == status, (case, response.content)
    assert InboundWebhook.objects.count() == (1 if status == 202 else 0)
    if status == 401:
        assert response.json()["error"]["code"] == "signature_invalid"


@pytest.mark.usefixtures("_quiet_processing")
@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_revoked_secret_no_longer_authenticates(client, merchant_a, source):
    old = webhook_secret_add(merchant=merchant_a, source=source, secret=OLD_SECRET)
    webhook_secret_add(merchant=merchant_a, source=source, secret=SECRET)
    assert post(client, source, BODY, SIGNERS[source](BODY, OLD_SECRET)).status_code == 202
    webhook_secret_revoke(secret=old)
    forget_cached()
    second = BODY.replace(b"evt_1", b"evt_9")
    assert post(client, source, second, SIGNERS[source](second, OLD_SECRET)).status_code == 401
    assert post(client, source, second, SIGNERS[source](second, SECRET)).status_code == 202


@pytest.mark.usefixtures("_quiet_processing")
def test_a_secret_revoked_by_another_process_stops_working_when_the_cache_expires(
    client, merchant_a, monkeypatch
):
    """The edge keeps a merchant's secrets SECRETS_CACHE_SECONDS per process: a revocation made
    elsewhere (whose cache clearing does not reach this process) is honoured after that, as
    documented, and the remaining secret keeps working."""
    old = webhook_secret_add(merchant=merchant_a, source="generic", secret=OLD_SECRET)
    webhook_secret_add(merchant=merchant_a, source="generic", secret=SECRET)
    bodies = [BODY.replace(b"evt_1", f"evt_{n}".encode()) for n in range(4)]
    assert (
        post(client, "generic", bodies[0], generic.sign(bodies[0], OLD_SECRET)).status_code == 202
    )
    # Another process revokes it: the row changes, this process's cache does not.
    WebhookSecret.objects.filter(pk=old.pk).update(revoked_at=timezone.now())
    response = post(client, "generic", bodies[1], generic.sign(bodies[1], OLD_SECRET))
    assert response.status_code == 202  # within the cache window
    later = secrets._clock() + secrets.SECRETS_CACHE_SECONDS + 0.1
    monkeypatch.setattr(secrets, "_clock", lambda: later)
    response = post(client, "generic", bodies[2], generic.sign(bodies[2], OLD_SECRET))
    assert response.status_code == 401
    assert post(client, "generic", bodies[3], generic.sign(bodies[3], SECRET)).status_code == 202
    stored = {bytes(body) for body in InboundWebhook.objects.values_list("body", flat=True)}
    assert stored == {bodies[0], bodies[1], bodies[3]}


@pytest.mark.usefixtures("_quiet_processing")
def test_no_secret_configured_is_401_not_stored(client, merchant_a):
    response = post(client, "easypost", BODY, easypost.sign(BODY, SECRET))
    assert response.status_code == 401
    assert "no active EasyPost webhook secret" in response.json()["error"]["detail"]
    assert not InboundWebhook.objects.exists()


@pytest.mark.usefixtures("_quiet_processing")
def test_another_merchants_secret_does_not_open_this_endpoint(client, merchant_a, merchant_b):
    webhook_secret_add(merchant=merchant_a, source="aftership", secret=SECRET)
    webhook_secret_add(merchant=merchant_b, source="aftership", secret=WRONG)
    signed_by_b = aftership.sign(BODY, WRONG)
    assert post(client, "aftership", BODY, signed_by_b, slug="aurora").status_code == 401
    assert post(client, "aftership", BODY, signed_by_b, slug="aurora-jp").status_code == 202
    stored = InboundWebhook.objects.get()
    assert stored.merchant == merchant_b


@pytest.mark.usefixtures("_quiet_processing")
@pytest.mark.parametrize("source", ["generic", "shippo"])
def test_timestamp_outside_tolerance_is_rejected(client, merchant_a, source, settings):
    webhook_secret_add(merchant=merchant_a, source=source, secret=SECRET)
    stale = int(time.time() - settings.TRACKING_WEBHOOK_TOLERANCE.total_seconds() - 60)
    signer = generic.sign if source == "generic" else shippo.sign
    response = post(client, source, BODY, signer(BODY, SECRET, timestamp=stale))
    assert response.status_code == 401
    assert "tolerance" in response.json()["error"]["detail"]


@pytest.mark.usefixtures("_quiet_processing")
def test_generic_sender_may_sign_with_each_secret_while_rotating(client, merchant_a):
    webhook_secret_add(merchant=merchant_a, source="generic", secret=SECRET)
    headers = generic.sign(BODY, WRONG, SECRET)
    assert post(client, "generic", BODY, headers).status_code == 202


@pytest.mark.usefixtures("_quiet_processing")
def test_shippo_token_in_the_url(client, merchant_a):
    webhook_secret_add(merchant=merchant_a, source="shippo", secret=SECRET)
    url = "/webhooks/shippo/aurora/?token="
    ok = client.post(url + SECRET, data=BODY, content_type="application/json")
    bad = client.post(url + WRONG, data=BODY, content_type="application/json")
    assert (ok.status_code, bad.status_code) == (202, 401)


@pytest.mark.usefixtures("_quiet_processing")
def test_stored_request_keeps_raw_body_and_key_but_not_credentials(client, merchant_a):
    webhook_secret_add(merchant=merchant_a, source="shopify", secret=SECRET)
    headers = {**SIGNERS["shopify"](BODY, SECRET), "Cookie": "session=abc"}
    response = post(client, "shopify", BODY, headers)
    stored = InboundWebhook.objects.get(pk=response.json()["id"])
    assert bytes(stored.body) == BODY
    webhook_id = headers[shopify.WEBHOOK_ID]
    assert (stored.unique_key, stored.topic) == (webhook_id, "orders/create")
    assert "cookie" not in stored.headers
    assert stored.headers["x-shopify-webhook-id"] == webhook_id


def test_unknown_source_and_merchant_are_404(client, merchant_a):
    assert post(client, "fedex-direct", BODY, {}).status_code == 404
    assert post(client, "easypost", BODY, {}, slug="nobody").status_code == 404


def test_get_is_not_allowed(client, merchant_a):
    assert client.get("/webhooks/easypost/aurora/").status_code == 405


def test_secret_is_encrypted_at_rest(merchant_a):
    row = webhook_secret_add(merchant=merchant_a, source="easypost", secret=SECRET)
    assert SECRET not in row.encrypted_secret
    assert row.hint == SECRET[-4:]


@pytest.mark.usefixtures("_quiet_processing")
def test_the_matching_secret_is_marked_used(client, merchant_a):
    old = webhook_secret_add(merchant=merchant_a, source="aftership", secret=OLD_SECRET)
    new = webhook_secret_add(merchant=merchant_a, source="aftership", secret=SECRET)
    assert post(client, "aftership", BODY, aftership.sign(BODY, SECRET)).status_code == 202
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.last_used_at is None
    assert new.last_used_at is not None
