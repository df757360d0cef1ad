"""The merchant console never shows, opens or accepts another merchant's rows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from postpurchase.models import MerchantRole
from tests.factories import (
    ApiKeyFactory,
    CustomerFactory,
    OrderLineFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db


def _store(merchant):  # type: ignore[no-untyped-def]
    """The same-looking data in every merchant: order "1001", one customer, product, shipment."""
    customer = CustomerFactory(merchant=merchant, email="sam@example.com", external_id="c-1")
    line = OrderLineFactory(
        order__merchant=merchant, order__customer=customer, order__number="1001"
    )
    shipment = ShipmentFactory(order=line.order, tracking_number="1Z999AA10123456784")
    key = ApiKeyFactory(merchant=merchant, name="Storefront")
    return {
        "merchant": merchant,
        "customer": customer,
        "product": line.product,
        "order": line.order,
        "shipment": shipment,
        "apikey": key,
    }


@pytest.fixture
def stores(merchant_a, merchant_b):  # type: ignore[no-untyped-def]
    return _store(merchant_a), _store(merchant_b)


CHANGELISTS = [
    ("postpurchase", "merchant", "merchant"),
    ("postpurchase", "apikey", "apikey"),
    ("commerce", "customer", "customer"),
    ("commerce", "product", "product"),
    ("commerce", "order", "order"),
    ("tracking", "shipment", "shipment"),
]


@pytest.mark.parametrize(("app", "model", "key"), CHANGELISTS)
def test_changelist_lists_only_own_merchant_rows(client, owner_a, stores, app, model, key):
    store_a, store_b = stores
    client.force_login(owner_a)
    response = client.get(reverse(f"console:{app}_{model}_changelist"))
    assert response.status_code == 200
    listed = {obj.pk for obj in response.context["cl"].result_list}
    assert store_a[key].pk in listed
    assert store_b[key].pk not in listed


@pytest.mark.parametrize(("app", "model", "key"), CHANGELISTS)
def test_other_merchants_object_is_not_found(client, owner_a, stores, app, model, key):
    _, store_b = stores
    client.force_login(owner_a)
    for view in ("change", "history"):
        url = reverse(f"console:{app}_{model}_{view}", args=[store_b[key].pk])
        assert client.get(url).status_code == 404


def test_search_does_not_reach_other_merchant(client, owner_a, stores):
    store_a, _ = stores
    client.force_login(owner_a)
    response = client.get(reverse("console:commerce_order_changelist"), {"q": "1001"})
    assert [o.pk for o in response.context["cl"].result_list] == [store_a["order"].pk]


def test_autocomplete_offers_only_own_customers(client, owner_a, stores):
    store_a, _ = stores
    client.force_login(owner_a)
    response = client.get(
        reverse("console:autocomplete"),
        {
            "term": "sam",
            "app_label": "commerce",
            "model_name": "order",
            "field_name": "customer",
        },
    )
    assert response.status_code == 200
    ids = {int(result["id"]) for result in response.json()["results"]}
    assert ids == {store_a["customer"].pk}


def test_order_cannot_be_pointed_at_another_merchants_customer(client, owner_a, stores):
    store_a, store_b = stores
    order = store_a["order"]
    client.force_login(owner_a)
    url = reverse("console:commerce_order_change", args=[order.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: form[name].value() if form[name].value() is not None else ""
        for name in form.fields
        if not form.fields[name].disabled
    }
    data.update(
        {
            "customer": store_b["customer"].pk,
            "discount_codes": "[]",
            "lines-TOTAL_FORMS": "0",
            "lines-INITIAL_FORMS": "0",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200  # the form again, with an error
    assert "customer" in response.context["adminform"].form.errors
    order.refresh_from_db()
    assert order.customer_id == store_a["customer"].pk


def test_merchant_is_fixed_for_a_one_merchant_user(client, owner_a, merchant_a, merchant_b):
    client.force_login(owner_a)
    form = client.get(reverse("console:commerce_product_add")).context["adminform"].form
    field = form.fields["merchant"]
    assert field.disabled
    assert list(field.queryset) == [merchant_a]
    # Posting another merchant's id changes nothing: a disabled field keeps its initial value.
    response = client.post(
        reverse("console:commerce_product_add"),
        {
            "merchant": merchant_b.pk,
            "sku": "NEW-1",
            "title": "Wool cap",
            "price": "25.00",
            "currency": "USD",
            "returnable": "on",
            "in_stock": "on",
        },
    )
    assert response.status_code == 302
    from commerce.models import Product

    assert Product.objects.get(sku="NEW-1").merchant == merchant_a


def test_two_merchant_user_picks_among_own_merchants_only(
    client, make_staff, merchant_a, merchant_b
):
    from tests.factories import MerchantFactory

    merchant_c = MerchantFactory(slug="other-c")
    user = make_staff("dual", (merchant_a, MerchantRole.ADMIN), (merchant_b, MerchantRole.ADMIN))
    client.force_login(user)
    form = client.get(reverse("console:commerce_product_add")).context["adminform"].form
    assert set(form.fields["merchant"].queryset) == {merchant_a, merchant_b}
    assert merchant_c not in form.fields["merchant"].queryset


def test_staff_without_membership_cannot_enter_console(client, make_staff, stores):
    client.force_login(make_staff("nobody"))
    response = client.get(reverse("console:index"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("site", ["console", "ops"])
def test_logging_in_from_the_login_page_lands_on_the_sites_index(client, site, owner_a, ops_user):
    user = owner_a if site == "console" else ops_user
    login = reverse(f"{site}:login")
    page = client.get(login, follow=True)
    assert page.status_code == 200
    action = page.redirect_chain[-1][0]
    response = client.post(action, {"username": user.username, "password": "pw"})
    assert response.status_code == 302
    assert response["Location"] == reverse(f"{site}:index")
