"""Roles in the console: who may edit branding, manage API keys, store data; keys shown once."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from postpurchase.models import ApiKey, MerchantRole
from tests.factories import ApiKeyFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_of_a(make_staff, merchant_a):  # type: ignore[no-untyped-def]
    return {
        role: make_staff(f"{role}-a", (merchant_a, role))
        for role in (
            MerchantRole.OWNER,
            MerchantRole.ADMIN,
            MerchantRole.MARKETER,
            MerchantRole.OPS,
        )
    }


def _merchant_form(merchant, **changes):  # type: ignore[no-untyped-def]
    data = {
        "name": merchant.name,
        "website": "",
        "support_email": merchant.support_email,
        "support_url": "",
        "default_language": merchant.default_language,
        "languages": merchant.languages,
        "time_zone": merchant.time_zone,
        "currency": merchant.currency,
        "country": merchant.country,
        "primary_colour": merchant.primary_colour,
        "accent_colour": merchant.accent_colour,
        "text_colour": merchant.text_colour,
        "background_colour": merchant.background_colour,
        "font_family": merchant.font_family,
        "email_from_name": "",
        "email_from_address": "",
        "sms_sender": "",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (MerchantRole.OWNER, True),
        (MerchantRole.ADMIN, True),
        (MerchantRole.MARKETER, True),
        (MerchantRole.OPS, False),
    ],
)
def test_branding_edit_by_role(client, staff_of_a, merchant_a, role, allowed):
    client.force_login(staff_of_a[role])
    url = reverse("console:postpurchase_merchant_change", args=[merchant_a.pk])
    response = client.post(url, _merchant_form(merchant_a, primary_colour="#aa0000"))
    merchant_a.refresh_from_db()
    if allowed:
        assert response.status_code == 302
        assert merchant_a.primary_colour == "#aa0000"
    else:
        assert response.status_code == 403
        assert merchant_a.primary_colour != "#aa0000"
        # Ops staff still see the settings, read-only.
        assert client.get(url).status_code == 200


def test_branding_rejects_bad_colour_with_field_message(client, staff_of_a, merchant_a):
    client.force_login(staff_of_a[MerchantRole.OWNER])
    url = reverse("console:postpurchase_merchant_change", args=[merchant_a.pk])
    response = client.post(url, _merchant_form(merchant_a, primary_colour="red"))
    assert response.status_code == 200
    assert "primary_colour" in response.context["adminform"].form.errors


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (MerchantRole.OWNER, 200),
        (MerchantRole.ADMIN, 200),
        (MerchantRole.MARKETER, 403),
        (MerchantRole.OPS, 403),
    ],
)
def test_api_keys_screen_by_role(client, staff_of_a, role, status):
    client.force_login(staff_of_a[role])
    assert client.get(reverse("console:postpurchase_apikey_changelist")).status_code == status
    assert client.get(reverse("console:postpurchase_apikey_add")).status_code == status


def test_marketer_edits_catalogue_but_only_reads_orders(client, staff_of_a, merchant_a):
    product = ProductFactory(merchant=merchant_a)
    order = OrderFactory(merchant=merchant_a)
    client.force_login(staff_of_a[MerchantRole.MARKETER])
    product_page = client.get(reverse("console:commerce_product_change", args=[product.pk]))
    assert product_page.context["has_change_permission"] is True
    order_page = client.get(reverse("console:commerce_order_change", args=[order.pk]))
    assert order_page.status_code == 200
    assert order_page.context["has_change_permission"] is False
    response = client.post(reverse("console:commerce_order_change", args=[order.pk]), {})
    assert response.status_code == 403


def test_ops_role_cannot_delete_products(client, staff_of_a, merchant_a):
    product = ProductFactory(merchant=merchant_a)
    client.force_login(staff_of_a[MerchantRole.OPS])
    url = reverse("console:commerce_product_delete", args=[product.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert product.__class__.objects.filter(pk=product.pk).exists()


def test_issuing_a_key_shows_the_secret_once_and_stores_only_its_hash(
    client, staff_of_a, merchant_a
):
    client.force_login(staff_of_a[MerchantRole.OWNER])
    response = client.post(
        reverse("console:postpurchase_apikey_add"),
        {"name": "Shopify", "scopes": ["orders:read", "orders:write"]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    key = ApiKey.objects.get(merchant=merchant_a, name="Shopify")
    assert secret.startswith(key.prefix + "_")
    assert response.content.decode().count(secret) == 1
    assert key.hashed_key == hashlib.sha256(secret.encode()).hexdigest()
    assert key.scopes == ["orders:read", "orders:write"]
    # Never again: not on the list, not on the key's page, not in a message.
    later = client.get(reverse("console:postpurchase_apikey_change", args=[key.pk]))
    assert secret not in later.content.decode()
    listing = client.get(reverse("console:postpurchase_apikey_changelist"))
    assert secret not in listing.content.decode()
    assert key.prefix in listing.content.decode()


def test_issuing_a_key_needs_a_scope(client, staff_of_a):
    client.force_login(staff_of_a[MerchantRole.ADMIN])
    response = client.post(reverse("console:postpurchase_apikey_add"), {"name": "No scopes"})
    assert response.status_code == 200
    assert "scopes" in response.context["adminform"].form.errors
    assert not ApiKey.objects.filter(name="No scopes").exists()


def test_revoke_action_revokes_only_own_keys(client, staff_of_a, merchant_a, merchant_b):
    own = ApiKeyFactory(merchant=merchant_a)
    other = ApiKeyFactory(merchant=merchant_b)
    client.force_login(staff_of_a[MerchantRole.ADMIN])
    response = client.post(
        reverse("console:postpurchase_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [own.pk, other.pk]},
    )
    assert response.status_code == 302
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.revoked_at is not None
    assert other.revoked_at is None


def test_issued_key_cannot_be_changed_or_deleted(client, staff_of_a, merchant_a):
    key = ApiKeyFactory(merchant=merchant_a, scopes=["orders:read"])
    client.force_login(staff_of_a[MerchantRole.OWNER])
    url = reverse("console:postpurchase_apikey_change", args=[key.pk])
    client.post(url, {"name": "Renamed", "scopes": ["orders:write"]})
    key.refresh_from_db()
    assert key.scopes == ["orders:read"]
    delete = client.post(reverse("console:postpurchase_apikey_delete", args=[key.pk]), {"post": 1})
    assert delete.status_code == 403


def test_settings_page_previews_the_saved_branding(client, staff_of_a, merchant_a):
    merchant_a.primary_colour = "#123abc"
    merchant_a.save()
    client.force_login(staff_of_a[MerchantRole.MARKETER])
    page = client.get(reverse("console:postpurchase_merchant_change", args=[merchant_a.pk]))
    assert "color:#123abc" in page.content.decode()


def test_orders_are_not_invented_in_the_console(client, staff_of_a):
    client.force_login(staff_of_a[MerchantRole.OWNER])
    assert client.get(reverse("console:commerce_order_add")).status_code == 403
