"""Adding a shipment in the console goes through the tracking service, scoped like the rest."""

from __future__ import annotations

import pytest
from django.urls import reverse

from postpurchase.models import DomainEvent, MerchantRole
from tests.factories import OrderLineFactory
from tracking.models import Shipment

pytestmark = pytest.mark.django_db

ADD = "console:tracking_shipment_add"


def _form(order, **changes):  # type: ignore[no-untyped-def]
    data = {
        "order": order.pk,
        "carrier": "ups",
        "service": "Ground",
        "tracking_number": "1Z999AA10123456784",
        "shipped_at_0": "2026-11-21",
        "shipped_at_1": "09:00:00",
        "origin_country": "US",
    }
    data.update(changes)
    return data


def test_ops_staff_add_a_shipment_of_what_is_left_to_ship(client, make_staff, merchant_a):
    line = OrderLineFactory(order__merchant=merchant_a, quantity=3)
    client.force_login(make_staff("oscar", (merchant_a, MerchantRole.OPS)))

    response = client.post(reverse(ADD), _form(line.order))

    assert response.status_code == 302, response.context["adminform"].form.errors
    shipment = Shipment.objects.get()
    assert shipment.merchant == merchant_a
    assert shipment.tracking_number == "1Z999AA10123456784"
    assert [(sl.order_line_id, sl.quantity) for sl in shipment.shipment_lines.all()] == [
        (line.pk, 3)
    ]
    assert DomainEvent.objects.filter(
        type="shipment.created", subject=f"shipment:{shipment.pk}"
    ).exists()


def test_service_errors_show_on_the_form_and_nothing_is_stored(client, owner_a, merchant_a):
    line = OrderLineFactory(order__merchant=merchant_a)
    client.force_login(owner_a)

    response = client.post(
        reverse(ADD), _form(line.order, tracking_number="no!", origin_country="ZZ")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "tracking_number" in errors
    assert "origin_country" in errors
    assert not Shipment.objects.exists()
    assert not DomainEvent.objects.filter(type="shipment.created").exists()


def test_another_merchants_order_cannot_be_chosen(client, owner_a, merchant_b):
    other = OrderLineFactory(order__merchant=merchant_b).order
    client.force_login(owner_a)

    response = client.post(reverse(ADD), _form(other))

    assert response.status_code == 200
    assert "order" in response.context["adminform"].form.errors
    assert not Shipment.objects.exists()


def test_a_view_only_role_cannot_ship_that_stores_orders(
    client, make_staff, merchant_a, merchant_b
):
    order_b = OrderLineFactory(order__merchant=merchant_b).order
    user = make_staff("mixed", (merchant_a, MerchantRole.OPS), (merchant_b, MerchantRole.MARKETER))
    client.force_login(user)

    response = client.post(reverse(ADD), _form(order_b))

    assert response.status_code == 200
    assert "order" in response.context["adminform"].form.errors
    assert not Shipment.objects.exists()


def test_marketers_cannot_add_shipments(client, make_staff, merchant_a):
    client.force_login(make_staff("mara", (merchant_a, MerchantRole.MARKETER)))
    assert client.get(reverse(ADD)).status_code == 403
