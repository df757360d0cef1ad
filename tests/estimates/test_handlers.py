"""On shipment creation the estimate is stored; a slip publishes `shipment.delayed` once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from estimates.models import ShipmentDelay, TransitRule
from estimates.services import shipment_estimate_refresh
from postpurchase.models import DomainEvent
from tests.factories import OrderFactory
from tracking.models import Shipment
from tracking.services import shipment_create

pytestmark = pytest.mark.django_db(transaction=True)

# Tue 19 Nov 2024, shipped the same day; US calendar (Thanksgiving is Thu 28 Nov).
PLACED = datetime(2024, 11, 19, 15, 0, tzinfo=UTC)


def _rule(merchant, typical: int, maximum: int) -> None:  # type: ignore[no-untyped-def]
    TransitRule.objects.update_or_create(
        merchant=merchant,
        carrier="ups",
        service="",
        destination_country="US",
        defaults={"min_days": 1, "typical_days": typical, "max_days": maximum},
    )


def _ship(merchant) -> Shipment:  # type: ignore[no-untyped-def]
    order = OrderFactory(merchant=merchant, placed_at=PLACED, shipping_country="US")
    return shipment_create(
        order=order,
        carrier="ups",
        service="ground",
        tracking_number="1Z999AA10123456784",
        shipped_at=PLACED,
        destination_country="US",
        destination_postcode="10001",
    )


def test_shipment_creation_stores_an_estimate_and_keeps_the_first_promise(merchant_a) -> None:
    _rule(merchant_a, typical=3, maximum=5)
    shipment = _ship(merchant_a)
    shipment.refresh_from_db()
    # Ships Tue 19 Nov: 3 business days -> Fri 22, 5 -> Tue 26 Nov.
    assert shipment.estimate_central == date(2024, 11, 22)
    assert shipment.promise_date == date(2024, 11, 26)
    assert shipment.first_promise_date == date(2024, 11, 26)
    assert shipment.estimate_window_start == date(2024, 11, 20)
    assert shipment.estimate_model_version == "rules"


def test_a_slip_publishes_shipment_delayed_exactly_once(merchant_a) -> None:
    _rule(merchant_a, typical=3, maximum=5)
    shipment = _ship(merchant_a)
    assert not DomainEvent.objects.filter(type="shipment.delayed").exists()

    _rule(merchant_a, typical=7, maximum=9)  # the lane slowed: central now past the promise
    shipment_estimate_refresh(shipment=Shipment.objects.get(pk=shipment.pk))
    shipment_estimate_refresh(shipment=Shipment.objects.get(pk=shipment.pk))
    delayed = list(DomainEvent.objects.filter(type="shipment.delayed"))
    assert len(delayed) == 1
    # 7 business days after Tue 19 Nov skip Thanksgiving: Fri 29 Nov; 9 -> Tue 3 Dec.
    assert delayed[0].data["old_promise"] == "2024-11-26"
    assert delayed[0].data["new_central"] == "2024-11-29"
    assert delayed[0].data["new_promise"] == "2024-12-03"
    assert delayed[0].data["first_promise"] == "2024-11-26"

    _rule(merchant_a, typical=12, maximum=14)  # a second, further slip is a new announcement
    shipment_estimate_refresh(shipment=Shipment.objects.get(pk=shipment.pk))
    assert DomainEvent.objects.filter(type="shipment.delayed").count() == 2
    assert ShipmentDelay.objects.filter(shipment=shipment).count() == 2
    shipment.refresh_from_db()
    assert shipment.first_promise_date == date(2024, 11, 26)


def test_an_earlier_estimate_is_not_a_delay(merchant_a) -> None:
    _rule(merchant_a, typical=3, maximum=5)
    shipment = _ship(merchant_a)
    _rule(merchant_a, typical=1, maximum=2)
    shipment_estimate_refresh(shipment=Shipment.objects.get(pk=shipment.pk))
    assert not DomainEvent.objects.filter(type="shipment.delayed").exists()


def test_rules_of_another_merchant_are_not_used(merchant_a, merchant_b) -> None:
    _rule(merchant_b, typical=20, maximum=30)
    shipment = _ship(merchant_a)
    shipment.refresh_from_db()
    # merchant_a has no rule: the built-in 2-4-7 business-day default applies.
    assert shipment.estimate_central == date(2024, 11, 25)
    assert shipment.promise_date == date(2024, 11, 29)
