"""tracking/handlers.py: shipment and order events become notifications, once, in their words."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core import mail
from django.db import connections, transaction

from notifications.models import Channel, Message, MessageStatus
from notifications.sending import messages_send
from postpurchase import outbox
from postpurchase.models import DomainEvent
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ShipmentFactory
from tracking.handlers import destination_zone
from tracking.models import ShipmentLine
from tracking.normalisation import shipment_event_data


def _shipment(merchant, *, language="en", region="NY", **customer):  # type: ignore[no-untyped-def]
    person = CustomerFactory(merchant=merchant, language=language, **customer)
    order = OrderFactory(merchant=merchant, customer=person, number="1001", shipping_region=region)
    line = OrderLineFactory(
        order=order, title="Merino crew sock", sku="SOCK-1", product__sku="SOCK-1"
    )
    shipment = ShipmentFactory(order=order, destination_region=region)
    ShipmentLine.objects.create(merchant=merchant, shipment=shipment, order_line=line, quantity=2)
    return shipment


def _publish(shipment, event_type, **extra):  # type: ignore[no-untyped-def]
    return outbox.publish(
        merchant=shipment.merchant,
        type=event_type,
        subject=f"shipment:{shipment.pk}",
        data={**shipment_event_data(shipment), **extra},
    )


@pytest.mark.django_db
def test_delivered_event_sends_a_personalised_email(
    merchant_a, daytime, settings, django_capture_on_commit_callbacks
):
    shipment = _shipment(merchant_a, first_name="Alice", email="alice@example.com")
    shipment.status = "delivered"
    shipment.save()
    with django_capture_on_commit_callbacks(execute=True):
        _publish(shipment, "shipment.delivered")
    (email,) = mail.outbox
    assert email.subject == "Alice, your Merino crew sock has been delivered"
    assert "Order 1001 has been delivered" in email.body
    assert f"https://track.example/{merchant_a.slug}/track/t/" in email.body
    messages = Message.objects.for_merchant(merchant_a)
    assert {m.order_ref for m in messages} == {"1001"}
    assert {m.customer_ref for m in messages} == {shipment.order.customer.external_id}
    assert messages.get(channel=Channel.EMAIL).time_zone == "America/New_York"


@pytest.mark.django_db
def test_japanese_shopper_gets_japanese_and_delay_shows_the_new_window(
    merchant_b, settings, django_capture_on_commit_callbacks
):
    shipment = _shipment(
        merchant_b,
        language="ja",
        region="",
        first_name="花子",
        last_name="山田",
        email="hanako@example.jp",
        time_zone="Asia/Tokyo",
    )
    shipment.estimate_window_start = date(2026, 11, 28)
    shipment.estimate_window_end = date(2026, 11, 29)
    shipment.save()
    # 11:00 in Tokyo.
    with (
        time_machine.travel(datetime(2026, 11, 24, 2, 0, tzinfo=UTC), tick=True),
        django_capture_on_commit_callbacks(execute=True),
    ):
        outbox.publish(
            merchant=merchant_b,
            type="shipment.delayed",
            subject=f"shipment:{shipment.pk}",
            data={
                "shipment_id": shipment.pk,
                "old_promise": "2026-11-25",
                "new_promise": "2026-11-28",
            },
        )
    (email,) = mail.outbox
    assert "お届けが遅れています" in email.subject
    assert "11月28日(土)〜11月29日(日)" in email.body
    assert "11月25日(水)" in email.body
    sms = json.loads((settings.NOTIFICATIONS_OUTBOX_DIR / "sms.jsonl").read_text().splitlines()[0])
    assert sms["body"].startswith(
        "Aurora Outfitters JP\N{FULLWIDTH COLON}ご注文1001のお届けが遅れています"
    )


def test_destination_zone_from_the_address():
    assert destination_zone(country="US", region="ca") == "America/Los_Angeles"
    assert destination_zone(country="JP", region="") == "Asia/Tokyo"
    assert destination_zone(country="US", region="") == ""
    assert destination_zone(country="BR", region="SP") == ""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_duplicate_storm_sends_exactly_one_message_per_channel(merchant_a, settings):
    shipment = _shipment(merchant_a, first_name="Alice", email="alice@example.com")
    with time_machine.travel(datetime(2026, 11, 24, 15, 0, tzinfo=UTC), tick=True):
        # The event row as the outbox stores it; ten dispatchers race for it.
        event = DomainEvent.objects.create(
            merchant=merchant_a,
            type="shipment.out_for_delivery",
            subject=f"shipment:{shipment.pk}",
            data=shipment_event_data(shipment),
        )
        barrier = threading.Barrier(10)
        errors: list[BaseException] = []

        def dispatch() -> None:
            try:
                barrier.wait()
                outbox.event_dispatch(event_id=str(event.id))
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=dispatch) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

        # The same event handed to the engine again, ten at once, bypassing the outbox's own
        # once-per-handler record (as a replay from another path would).
        from tracking.handlers import MILESTONE_TRIGGERS, _milestone

        handler = _milestone(MILESTONE_TRIGGERS["shipment.out_for_delivery"])
        barrier = threading.Barrier(10)

        def replay() -> None:
            try:
                barrier.wait()
                with transaction.atomic():
                    handler(DomainEvent.objects.get(pk=event.pk))
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=replay) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []

        # A retried send task for every message: nothing is sent twice.
        ids = list(Message.objects.values_list("pk", flat=True))
        assert messages_send(message_ids=ids).sent == 0

    per_channel = {
        c: Message.objects.filter(channel=c).count() for c in (Channel.EMAIL, Channel.SMS)
    }
    assert per_channel == {Channel.EMAIL: 1, Channel.SMS: 1}
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert len(mail.outbox) == 1
    assert len((settings.NOTIFICATIONS_OUTBOX_DIR / "sms.jsonl").read_text().splitlines()) == 1


@pytest.mark.django_db
def test_order_created_sends_the_order_confirmation(
    merchant_a, daytime, django_capture_on_commit_callbacks
):
    shipment = _shipment(merchant_a, first_name="Alice", email="alice@example.com")
    order = shipment.order
    with django_capture_on_commit_callbacks(execute=True):
        outbox.publish(
            merchant=merchant_a,
            type="order.created",
            subject=f"order:{order.pk}",
            data={"order_id": order.pk, "number": order.number},
        )
    (email,) = mail.outbox
    assert email.subject == "Alice, we've got your order 1001"
    assert "2 x Merino crew sock" in email.body


@pytest.mark.django_db
def test_arriving_tomorrow_is_said_once_per_shipment_and_day(
    merchant_a, daytime, django_capture_on_commit_callbacks
):
    shipment = _shipment(merchant_a, first_name="Alice", email="alice@example.com")
    shipment.status = "in_transit"
    shipment.estimate_central = date(2026, 11, 25)  # tomorrow in New York at 10:00 on the 24th
    shipment.save()
    with django_capture_on_commit_callbacks(execute=True):
        _publish(shipment, "shipment.events_recorded", new_events=1)
        _publish(shipment, "shipment.events_recorded", new_events=2)
    (email,) = mail.outbox
    assert email.subject == "Alice, your Merino crew sock arrives tomorrow"
    shipment.estimate_central = date(2026, 11, 27)
    shipment.save()
    with django_capture_on_commit_callbacks(execute=True):
        _publish(shipment, "shipment.events_recorded", new_events=1)
    assert len(mail.outbox) == 1  # not tomorrow any more: nothing new


def _numbered_shipment(merchant, number: int):  # type: ignore[no-untyped-def]
    person = CustomerFactory(
        merchant=merchant, language="en", first_name=f"Shopper{number}", email=f"s{number}@ex.com"
    )
    order = OrderFactory(merchant=merchant, customer=person, number=str(5000 + number))
    line = OrderLineFactory(
        order=order, title=f"Item {number}", sku=f"SKU-{number}", product__sku=f"SKU-{number}"
    )
    shipment = ShipmentFactory(order=order, destination_region="NY", status="delivered")
    ShipmentLine.objects.create(merchant=merchant, shipment=shipment, order_line=line, quantity=1)
    return shipment


@pytest.mark.django_db
def test_a_burst_of_delivered_events_is_enqueued_as_one_batch_per_merchant(
    merchant_a, merchant_b, daytime, django_capture_on_commit_callbacks
):
    from notifications.models import MessagingSettings, TriggerToggle

    for merchant in (merchant_a, merchant_b):
        TriggerToggle.objects.create(
            merchant=merchant, trigger="delivered", channel=Channel.PUSH, enabled=False
        )
        # Midnight in Tokyo: merchant_b's quiet hours would hold its messages.
        MessagingSettings.objects.create(merchant=merchant, quiet_hours_enabled=False)
    shipments = [_numbered_shipment(merchant_a, n) for n in range(6)]
    shipments += [_numbered_shipment(merchant_b, n) for n in range(6, 9)]
    specs = [
        outbox.EventSpec(
            merchant=s.merchant,
            type="shipment.delivered",
            subject=f"shipment:{s.pk}",
            data=shipment_event_data(s),
        )
        for s in shipments
    ]
    with django_capture_on_commit_callbacks(execute=True):
        events = outbox.publish_many(events=specs)

    for merchant, numbers in ((merchant_a, range(6)), (merchant_b, range(6, 9))):
        messages = Message.objects.for_merchant(merchant)
        # One notifications_enqueue_many call per merchant for the whole burst.
        assert messages.values("enqueue_token").distinct().count() == 1
        assert sorted(messages.values_list("subject", flat=True)) == sorted(
            f"Shopper{n}, your Item {n} has been delivered" for n in numbers
        )
        assert {m.status for m in messages} == {MessageStatus.SENT}
    assert len(mail.outbox) == 9
    runs = _notify_runs(events)
    assert runs == {("tracking.notify_delivered", "done", 1)}

    # The batch redelivered (a retried task, the sweeper): nothing new is queued or sent.
    DomainEvent.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.events_dispatch_many(event_ids=[str(e.id) for e in events]) == []
    assert Message.objects.count() == 9
    assert len(mail.outbox) == 9


def _notify_runs(events):  # type: ignore[no-untyped-def]
    from postpurchase.models import HandlerRun

    return set(
        HandlerRun.objects.filter(
            event__in=[e.pk for e in events], handler="tracking.notify_delivered"
        ).values_list("handler", "state", "attempts")
    )
