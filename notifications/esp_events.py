"""The adapter between django-anymail's tracking webhooks and the message ledger.

Anymail verifies each ESP's webhook (its own URL under /anymail/, basic auth or signature) and
normalises the payload into an `AnymailTrackingEvent`; this receiver hands it to
`consent.esp_event_record`, which dedupes by the ESP's event id.
"""

from __future__ import annotations

from typing import Any

from anymail.signals import AnymailTrackingEvent, tracking

from notifications.consent import esp_event_record

_DISPATCH_UID = "notifications.esp_events"


def on_tracking_event(
    sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    esp_event_record(
        esp_name=esp_name,
        event_type=str(event.event_type),
        event_id=str(event.event_id or ""),
        esp_message_id=str(event.message_id or ""),
        recipient=str(event.recipient or ""),
        metadata=dict(event.metadata or {}),
        occurred_at=event.timestamp,
        description=str(event.description or event.reject_reason or ""),
    )


def connect() -> None:
    tracking.connect(on_tracking_event, dispatch_uid=_DISPATCH_UID, weak=False)
