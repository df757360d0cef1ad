"""API keys: hashed at rest with a visible prefix, shown once, revocable, scoped."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from postpurchase.api_keys import api_key_authenticate, api_key_create, api_key_revoke
from postpurchase.errors import DomainError
from postpurchase.models import ApiKey

pytestmark = pytest.mark.django_db


def test_only_the_hash_is_stored(merchant_a):
    issued = api_key_create(merchant=merchant_a, name="Shop", scopes=["orders:read"])
    row = ApiKey.objects.get(pk=issued.api_key.pk)
    assert issued.secret.startswith(row.prefix + "_")
    assert row.hashed_key == hashlib.sha256(issued.secret.encode()).hexdigest()
    stored = [str(v) for v in ApiKey.objects.filter(pk=row.pk).values().get().values()]
    assert all(issued.secret not in value for value in stored)


def test_every_issued_key_authenticates(merchant_a):
    # The random part may contain "_" (urlsafe base64): the prefix must still be found.
    for _ in range(40):
        issued = api_key_create(merchant=merchant_a, name="Shop", scopes=[])
        assert api_key_authenticate(secret=issued.secret).pk == issued.api_key.pk


def test_tampered_or_unknown_keys_fail(merchant_a):
    issued = api_key_create(merchant=merchant_a, name="Shop", scopes=[])
    for bad in (issued.secret[:-1] + "x", issued.api_key.prefix, "pp_", "", "nonsense"):
        with pytest.raises(DomainError) as exc:
            api_key_authenticate(secret=bad)
        assert exc.value.code == "api_key_invalid"


def test_revoked_key_fails(merchant_a):
    issued = api_key_create(merchant=merchant_a, name="Shop", scopes=[])
    api_key_revoke(api_key=issued.api_key)
    with pytest.raises(DomainError) as exc:
        api_key_authenticate(secret=issued.secret)
    assert exc.value.code == "api_key_revoked"


def test_unknown_scope_is_refused(merchant_a):
    with pytest.raises(DomainError) as exc:
        api_key_create(merchant=merchant_a, name="Shop", scopes=["orders:delete"])
    assert exc.value.field == "scopes"
    assert not ApiKey.objects.exists()


def test_create_api_key_command_prints_the_key_once(merchant_a):
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_key",
        "aurora",
        "Shopify sync",
        "--scopes",
        "orders:read",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().splitlines()[-1]
    key = api_key_authenticate(secret=secret)
    assert key.merchant == merchant_a
    assert key.name == "Shopify sync"
    assert key.scopes == ["orders:read"]
    assert "not shown again" in err.getvalue()


def test_create_api_key_command_errors(merchant_a):
    with pytest.raises(CommandError, match="No merchant"):
        call_command("create_api_key", "nope", "x", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="Unknown scopes"):
        call_command(
            "create_api_key", "aurora", "x", "--scopes", "all", stdout=StringIO(), stderr=StringIO()
        )


def test_command_default_grants_every_scope(merchant_a):
    out = StringIO()
    call_command("create_api_key", "aurora", "All", stdout=out, stderr=StringIO())
    key = api_key_authenticate(secret=out.getvalue().splitlines()[-1])
    assert set(key.scopes) == {
        "orders:read",
        "orders:write",
        "shipments:read",
        "shipments:write",
        "estimates",
    }
