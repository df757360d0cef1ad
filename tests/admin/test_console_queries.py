"""Console lists cost a fixed number of queries however many rows they show."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory, OrderLineFactory, ShipmentFactory

pytestmark = pytest.mark.django_db


def _queries_for(client, url, django_assert_max_num_queries, budget):  # type: ignore[no-untyped-def]
    with django_assert_max_num_queries(budget):
        response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize(
    ("url_name", "budget"),
    [
        ("console:commerce_order_changelist", 10),
        ("console:commerce_customer_changelist", 7),
        ("console:commerce_product_changelist", 7),
        ("console:tracking_shipment_changelist", 9),
    ],
)
def test_changelist_queries_do_not_grow_with_rows(
    client, owner_a, merchant_a, django_assert_max_num_queries, url_name, budget
):
    client.force_login(owner_a)
    for _ in range(25):
        customer = CustomerFactory(merchant=merchant_a)
        line = OrderLineFactory(order__merchant=merchant_a, order__customer=customer)
        ShipmentFactory(order=line.order)
    response = _queries_for(client, reverse(url_name), django_assert_max_num_queries, budget)
    assert response.context["cl"].result_count == 25
