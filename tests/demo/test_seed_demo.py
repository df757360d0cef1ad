"""`seed_demo`: two storefronts with realistic data, a login and a key; a rerun adds nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from commerce.models import Customer, Order
from postpurchase.models import ApiKey, DomainEvent, Merchant, MerchantMembership
from tracking.models import Shipment

pytestmark = pytest.mark.django_db


def _seed(tmp_path, *args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--credentials-file", str(tmp_path / "creds.json"), *args, stdout=out)
    return out.getvalue()


def test_seed_creates_two_storefronts_with_orders_shipments_and_a_login(tmp_path):
    output = _seed(tmp_path)

    us = Merchant.objects.get(slug="northwind")
    jp = Merchant.objects.get(slug="northwind-jp")
    assert (us.default_language, us.currency, us.time_zone) == ("en", "USD", "America/New_York")
    assert (jp.default_language, jp.currency, jp.time_zone) == ("ja", "JPY", "Asia/Tokyo")
    assert jp.name == "北風商店"
    assert Order.objects.count() == 40
    # Look-alike order numbers in both storefronts, kept apart by tenant.
    assert Order.objects.for_merchant(us).filter(number="1001").exists()
    assert Order.objects.for_merchant(jp).filter(number="1001").exists()
    assert all(o.lines.exists() for o in Order.objects.all())
    assert all(c.phone.startswith("+81") for c in Customer.objects.for_merchant(jp))
    assert Customer.objects.for_merchant(jp).filter(last_name="佐藤").exists()
    # JPY has no minor unit.
    assert all(o.total == o.total.to_integral() for o in Order.objects.for_merchant(jp))
    statuses = set(Shipment.objects.values_list("status", flat=True))
    assert {"pending", "in_transit", "delivered", "attempt_failed", "exception"} <= statuses
    # The services published the domain events a real store would cause.
    assert DomainEvent.objects.filter(type="shipment.created").count() == Shipment.objects.count()

    creds = json.loads((tmp_path / "creds.json").read_text())
    assert f"Login:            demo / {creds['password']}" in output
    assert authenticate(username="demo", password=creds["password"]) is not None
    assert MerchantMembership.objects.filter(user__username="demo").count() == 2
    key = ApiKey.objects.get()
    assert f"{key.prefix}_" in output
    assert key.hashed_key not in output


def test_rerun_adds_nothing_and_prints_the_same_login(tmp_path):
    first = _seed(tmp_path)
    counts = (Order.objects.count(), Shipment.objects.count(), DomainEvent.objects.count())
    password = json.loads((tmp_path / "creds.json").read_text())["password"]

    second = _seed(tmp_path)

    assert (Order.objects.count(), Shipment.objects.count(), DomainEvent.objects.count()) == counts
    assert ApiKey.objects.count() == 1
    assert "nothing new" in second
    assert f"demo / {password}" in first
    assert f"demo / {password}" in second
    # The key's secret was shown the first time only.
    secret_line = next(line for line in first.splitlines() if "API key:" in line)
    secret = secret_line.split()[2]
    assert secret not in second
