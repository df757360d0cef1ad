"""order_upsert: idempotent by external id, validated field by field, one order under races."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from commerce.errors import InvalidInputError
from commerce.inputs import AddressInput, CustomerInput, OrderInput, OrderLineInput
from commerce.models import Customer, Order, OrderLine, OrderStatus, Product
from commerce.services import order_cancel, order_upsert
from postpurchase.errors import DomainError
from postpurchase.models import DomainEvent
from tests.factories import ProductFactory


def order_input(**overrides) -> OrderInput:
    base = OrderInput(
        external_id="gid-1001",
        number="1001",
        placed_at=datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
        currency="USD",
        customer=CustomerInput(
            external_id="c-1",
            email="Alice@Example.com",
            phone="+1 415 555 0123",
            first_name="Alice",
        ),
        shipping_address=AddressInput(country="us", city="New York", postcode="10001"),
        lines=[
            OrderLineInput(
                external_id="l-1",
                sku="SOCK-1",
                title="Merino sock",
                quantity=2,
                unit_price=Decimal("18.00"),
            ),
            OrderLineInput(
                external_id="l-2",
                sku="CAP-1",
                title="Wool cap",
                quantity=1,
                unit_price=Decimal("25.50"),
            ),
        ],
        shipping_total=Decimal("5.00"),
    )
    return replace(base, **overrides)


def events(merchant, type_: str) -> list[DomainEvent]:
    return list(DomainEvent.objects.filter(merchant=merchant, type=type_))


@pytest.mark.django_db
class TestOrderUpsert:
    def test_new_order_creates_customer_products_lines_and_publishes_created(self, merchant_a):
        result = order_upsert(merchant=merchant_a, payload=order_input())
        assert result.created
        assert result.changed
        order = result.order
        assert order.number == "1001"
        assert order.shipping_country == "US"
        assert order.subtotal == Decimal("61.50")
        assert order.total == Decimal("66.50")
        assert order.customer.email == "alice@example.com"
        assert order.customer.phone == "+14155550123"
        assert sorted(order.lines.values_list("sku", flat=True)) == ["CAP-1", "SOCK-1"]
        assert Product.objects.for_merchant(merchant_a).count() == 2
        created = events(merchant_a, "order.created")
        assert len(created) == 1
        assert created[0].data["external_id"] == "gid-1001"

    def test_identical_retry_changes_nothing_and_publishes_nothing(self, merchant_a):
        first = order_upsert(merchant=merchant_a, payload=order_input())
        updated_at = Order.objects.get(pk=first.order.pk).updated_at
        again = order_upsert(merchant=merchant_a, payload=order_input())
        assert again.order.pk == first.order.pk
        assert not again.created
        assert not again.changed
        assert Order.objects.get(pk=first.order.pk).updated_at == updated_at
        assert DomainEvent.objects.filter(merchant=merchant_a).count() == 1
        assert OrderLine.objects.filter(order=first.order).count() == 2

    def test_changed_payload_updates_and_publishes_updated(self, merchant_a):
        order_upsert(merchant=merchant_a, payload=order_input())
        changed = order_input(
            shipping_method="express",
            lines=[
                OrderLineInput(
                    external_id="l-1",
                    sku="SOCK-1",
                    title="Merino sock",
                    quantity=3,
                    unit_price=Decimal("18.00"),
                )
            ],
        )
        result = order_upsert(merchant=merchant_a, payload=changed)
        assert not result.created
        assert result.changed
        order = Order.objects.get(pk=result.order.pk)
        assert order.shipping_method == "express"
        assert list(order.lines.values_list("external_id", "quantity")) == [("l-1", 3)]
        updated = events(merchant_a, "order.updated")
        assert len(updated) == 1
        assert "shipping_method" in updated[0].data["changed_fields"]
        assert "lines.l-2" in updated[0].data["changed_fields"]

    def test_same_number_in_two_merchants_is_two_orders(self, merchant_a, merchant_b):
        a = order_upsert(merchant=merchant_a, payload=order_input())
        b = order_upsert(
            merchant=merchant_b,
            payload=order_input(
                currency="JPY",
                lines=[
                    OrderLineInput(
                        external_id="l-1",
                        sku="SOCK-1",
                        title="靴下",
                        quantity=1,
                        unit_price=Decimal("1800"),
                    )
                ],
                shipping_total=Decimal("0"),
                shipping_address=AddressInput(country="JP"),
                customer=CustomerInput(email="alice@example.com", phone="03-1234-5678"),
            ),
        )
        assert a.order.pk != b.order.pk
        assert b.created
        assert b.order.customer.phone == "+81312345678"  # national number read in JP
        assert Customer.objects.for_merchant(merchant_b).get().merchant == merchant_b

    def test_known_sku_links_to_catalogue_without_title(self, merchant_a):
        product = ProductFactory(merchant=merchant_a, sku="KNOWN-1", title="Catalogue title")
        line = OrderLineInput(external_id="l-9", sku="KNOWN-1", quantity=1, unit_price=Decimal(9))
        result = order_upsert(merchant=merchant_a, payload=order_input(lines=[line]))
        saved = result.order.lines.get()
        assert saved.product == product
        assert saved.title == "Catalogue title"

    def test_customer_found_by_email_adopts_external_id(self, merchant_a):
        order_upsert(
            merchant=merchant_a, payload=order_input(customer=CustomerInput(email="a@x.example"))
        )
        order_upsert(
            merchant=merchant_a,
            payload=order_input(
                external_id="gid-1002",
                number="1002",
                customer=CustomerInput(external_id="c-77", email="A@x.example"),
            ),
        )
        customer = Customer.objects.for_merchant(merchant_a).get()
        assert customer.external_id == "c-77"
        assert customer.orders.count() == 2

    def test_order_number_of_another_order_is_refused(self, merchant_a):
        order_upsert(merchant=merchant_a, payload=order_input())
        with pytest.raises(DomainError) as exc:
            order_upsert(merchant=merchant_a, payload=order_input(external_id="gid-other"))
        assert exc.value.code == "order_number_taken"
        assert exc.value.field == "number"

    def test_cancel_publishes_once(self, merchant_a):
        order = order_upsert(merchant=merchant_a, payload=order_input()).order
        order_cancel(order=order, reason="customer asked")
        order_cancel(order=order)
        assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
        assert len(events(merchant_a, "order.cancelled")) == 1


@pytest.mark.django_db
class TestOrderValidation:
    def fields_of(self, merchant, payload) -> dict[str, list[str]]:
        with pytest.raises(InvalidInputError) as exc:
            order_upsert(merchant=merchant, payload=payload)
        assert Order.objects.count() == 0  # nothing half-written
        assert DomainEvent.objects.count() == 0
        return exc.value.fields

    def test_unknown_currency(self, merchant_a):
        fields = self.fields_of(merchant_a, order_input(currency="ABC"))
        assert "ISO 4217" in fields["currency"][0]

    def test_bad_phone(self, merchant_a):
        customer = CustomerInput(external_id="c-1", phone="+1 555 0000")
        assert "customer.phone" in self.fields_of(merchant_a, order_input(customer=customer))

    def test_non_positive_quantity_points_at_the_line(self, merchant_a):
        line = OrderLineInput(
            external_id="l-1", sku="S", title="t", quantity=-1, unit_price=Decimal(1)
        )
        fields = self.fields_of(merchant_a, order_input(lines=[line]))
        assert list(fields) == ["lines.0.quantity"]

    def test_fractional_jpy(self, merchant_b):
        line = OrderLineInput(
            external_id="l-1", sku="S", title="t", quantity=1, unit_price=Decimal("1800.50")
        )
        fields = self.fields_of(
            merchant_b,
            order_input(currency="JPY", lines=[line], shipping_address=AddressInput(country="JP")),
        )
        assert fields["lines.0.unit_price"] == ["JPY has no minor unit: use a whole amount."]

    def test_unknown_product_without_title(self, merchant_a):
        line = OrderLineInput(external_id="l-1", sku="NOPE", quantity=1, unit_price=Decimal(1))
        with pytest.raises(InvalidInputError) as exc:
            order_upsert(merchant=merchant_a, payload=order_input(lines=[line]))
        assert exc.value.code == "unknown_product"
        assert "NOPE" in exc.value.fields["lines.0.sku"][0]
        assert Order.objects.count() == 0
        assert Customer.objects.count() == 0  # the customer write rolled back too

    def test_bad_country_and_naive_time_reported_together(self, merchant_a):
        fields = self.fields_of(
            merchant_a,
            order_input(
                shipping_address=AddressInput(country="XX"), placed_at=datetime(2026, 1, 1)
            ),
        )
        assert {"shipping_address.country", "placed_at"} <= set(fields)

    def test_customer_needs_an_identity(self, merchant_a):
        fields = self.fields_of(merchant_a, order_input(customer=CustomerInput(first_name="A")))
        assert "customer" in fields

    def test_duplicate_line_ids(self, merchant_a):
        line = OrderLineInput(
            external_id="l-1", sku="S", title="t", quantity=1, unit_price=Decimal(1)
        )
        assert "lines.1.external_id" in self.fields_of(merchant_a, order_input(lines=[line, line]))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_identical_upserts_make_one_order(merchant_a):
    """Both threads insert at once; the unique constraint decides and the loser re-reads."""
    barrier = threading.Barrier(2)
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(order_upsert(merchant=merchant_a, payload=order_input()))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert Order.objects.filter(merchant=merchant_a).count() == 1
    assert Customer.objects.filter(merchant=merchant_a).count() == 1
    assert OrderLine.objects.filter(merchant=merchant_a).count() == 2
    assert sorted(r.created for r in results) == [False, True]  # type: ignore[attr-defined]
    assert DomainEvent.objects.filter(merchant=merchant_a, type="order.created").count() == 1
    assert DomainEvent.objects.filter(merchant=merchant_a).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_upserts_that_both_miss_the_lookup_resolve_on_the_constraint(merchant_a, monkeypatch):
    """Force the worst interleaving: both transactions look the order up (absent) before either
    inserts. The unique constraints make one wait and fail; it retries and finds the winner's."""
    from commerce import services

    barrier = threading.Barrier(2)
    original = services._customer_upsert
    local = threading.local()
    calls: list[str] = []

    def after_lookup(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(threading.current_thread().name)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait(timeout=10)
        return original(**kwargs)

    monkeypatch.setattr(services, "_customer_upsert", after_lookup)
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(order_upsert(merchant=merchant_a, payload=order_input()))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, name=f"t{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(calls) == 3  # the loser ran a second attempt
    assert sorted(r.created for r in results) == [False, True]  # type: ignore[attr-defined]
    assert Order.objects.filter(merchant=merchant_a).count() == 1
    assert DomainEvent.objects.filter(merchant=merchant_a).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_shopper_committed_between_lookup_and_email_check_is_the_same_shopper(
    merchant_a, monkeypatch
):
    """The interleaving that made the concurrent test flaky: the second upsert looks the shopper
    up (absent), the first commits, then the second checks whether the email is taken. It must
    find the shopper the first created, not answer "this email belongs to another customer"."""
    from commerce import services

    original = services._customer_find
    looked_up = threading.Event()
    first_done = threading.Event()
    local = threading.local()

    def lookup_then_wait(scoped, data):  # type: ignore[no-untyped-def]
        found = original(scoped, data)
        if threading.current_thread().name == "second" and not getattr(local, "waited", False):
            local.waited = True
            looked_up.set()
            assert first_done.wait(timeout=10)
        return found

    monkeypatch.setattr(services, "_customer_find", lookup_then_wait)
    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            if name == "first":
                assert looked_up.wait(timeout=10)
            results[name] = order_upsert(merchant=merchant_a, payload=order_input())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            if name == "first":
                first_done.set()
            connection.close()

    threads = [threading.Thread(target=run, args=(n,), name=n) for n in ("second", "first")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert results["first"].created is True  # type: ignore[attr-defined]
    assert results["second"].created is False  # type: ignore[attr-defined]
    assert Customer.objects.filter(merchant=merchant_a).count() == 1
    assert Order.objects.filter(merchant=merchant_a).count() == 1
    assert DomainEvent.objects.filter(merchant=merchant_a).count() == 1


@pytest.mark.django_db
def test_omitted_customer_details_keep_what_is_known(merchant_a):
    order_upsert(merchant=merchant_a, payload=order_input())
    sparse = CustomerInput(external_id="c-1", email="alice@example.com")
    result = order_upsert(merchant=merchant_a, payload=order_input(customer=sparse))
    assert not result.changed
    customer = Customer.objects.for_merchant(merchant_a).get()
    assert customer.first_name == "Alice"
    assert customer.phone == "+14155550123"
    changed = CustomerInput(external_id="c-1", email="alice@example.com", phone="+14155550199")
    result = order_upsert(merchant=merchant_a, payload=order_input(customer=changed))
    assert result.changed_fields == ("customer.phone",)
