"""factory-boy factories for the platform's models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from postpurchase.models import ApiScope, Merchant


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    time_zone = "America/New_York"
    default_language = "en"
    languages = factory.LazyFunction(lambda: ["en", "ja"])
    currency = "USD"
    country = "US"
    support_email = factory.LazyAttribute(lambda m: f"help@{m.slug}.example")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "commerce.Customer"

    merchant = factory.SubFactory(MerchantFactory)
    external_id = factory.Sequence(lambda n: f"cust-{n}")
    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    phone = "+14155550123"
    first_name = "Alice"
    last_name = "Ng"
    language = "en"
    time_zone = "America/New_York"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "commerce.Product"

    merchant = factory.SubFactory(MerchantFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    title = factory.Sequence(lambda n: f"Merino crew sock {n}")
    category = "Socks"
    price = factory.LazyFunction(lambda: Decimal("18.00"))
    currency = factory.LazyAttribute(lambda p: p.merchant.currency)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "commerce.Order"

    merchant = factory.SubFactory(MerchantFactory)
    number = factory.Sequence(lambda n: f"{1000 + n}")
    external_id = factory.Sequence(lambda n: f"ord-{n}")
    customer = factory.SubFactory(CustomerFactory, merchant=factory.SelfAttribute("..merchant"))
    placed_at = factory.LazyFunction(lambda: datetime(2026, 11, 20, 15, 30, tzinfo=UTC))
    currency = factory.LazyAttribute(lambda o: o.merchant.currency)
    subtotal = factory.LazyFunction(lambda: Decimal("36.00"))
    total = factory.LazyFunction(lambda: Decimal("36.00"))
    shipping_name = "Alice Ng"
    shipping_address1 = "1 Main St"
    shipping_city = "Springfield"
    shipping_postcode = "10001"
    shipping_country = factory.LazyAttribute(lambda o: o.merchant.country)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "commerce.OrderLine"

    order = factory.SubFactory(OrderFactory)
    merchant = factory.SelfAttribute("order.merchant")
    external_id = factory.Sequence(lambda n: f"line-{n}")
    product = factory.SubFactory(ProductFactory, merchant=factory.SelfAttribute("..merchant"))
    sku = factory.SelfAttribute("product.sku")
    title = factory.SelfAttribute("product.title")
    quantity = 2
    unit_price = factory.LazyFunction(lambda: Decimal("18.00"))


class ShipmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "tracking.Shipment"

    order = factory.SubFactory(OrderFactory)
    merchant = factory.SelfAttribute("order.merchant")
    carrier = "ups"
    service = "ground"
    tracking_number = factory.Sequence(lambda n: f"1Z999AA1{n:010d}")
    destination_country = factory.SelfAttribute("order.shipping_country")
    destination_postcode = factory.SelfAttribute("order.shipping_postcode")
    shipped_at = factory.LazyFunction(lambda: datetime(2026, 11, 21, 9, 0, tzinfo=UTC))


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """A key with a known secret: `ApiKeyFactory().secret` is the bearer token."""

    class Meta:
        model = "postpurchase.ApiKey"

    merchant = factory.SubFactory(MerchantFactory)
    name = "Store integration"
    scopes = factory.LazyFunction(lambda: list(ApiScope.values))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        from postpurchase.api_keys import api_key_create

        issued = api_key_create(
            merchant=kwargs["merchant"], name=kwargs["name"], scopes=kwargs["scopes"]
        )
        issued.api_key.secret = issued.secret  # type: ignore[attr-defined]
        return issued.api_key
