"""factory-boy factories for the platform's models."""

from __future__ import annotations

import factory

from postpurchase.models import Merchant


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
