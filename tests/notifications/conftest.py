"""Fixtures for the messaging engine: a shopper, a shipment notice, loopback-only channels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine

from notifications.domain import ItemLine, Recipient, ShipmentNotice

# 10:00 in New York, 00:00 the next day in Tokyo: daytime for merchant_a's shoppers.
DAYTIME_NEW_YORK = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _messaging_settings(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.NOTIFICATIONS_BASE_URL = "https://track.example"
    settings.NOTIFICATIONS_OUTBOX_DIR = tmp_path / "outbox"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFICATIONS_CHANNELS = {
        "email": "notifications.channels.email.EmailChannel",
        "sms": "notifications.channels.outbox.OutboxChannel",
        "push": "notifications.channels.outbox.OutboxChannel",
    }


@pytest.fixture
def daytime() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(DAYTIME_NEW_YORK, tick=True) as traveller:
        yield traveller


@pytest.fixture
def shopper() -> Recipient:
    return Recipient(
        name="Alice Ng",
        first_name="Alice",
        email="Alice@Example.com",
        phone="+1 415 555 0123",
        language="en",
        time_zone="America/New_York",
        customer_ref="cust-1",
    )


@pytest.fixture
def notice() -> ShipmentNotice:
    return ShipmentNotice(
        order_number="1001",
        items=(ItemLine("Merino crew sock", 2), ItemLine("Canvas tote", 1)),
        carrier="ups",
        tracking_number="1Z999AA10123456784",
        tracking_ref="pub-abc123",
        status="out_for_delivery",
        estimate_start=date(2026, 11, 26),
        estimate_end=date(2026, 11, 27),
        destination_time_zone="America/New_York",
    )
