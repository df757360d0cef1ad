"""The embedded default for SMS and push: messages are appended to a local outbox file (one
JSON object a line) and logged, so the demo shows what would have been sent."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from pathlib import Path

from django.conf import settings

from notifications.domain import OutgoingMessage, SendResult

logger = logging.getLogger(__name__)
_lock = threading.Lock()


class OutboxChannel:
    provider = "local-outbox"

    def __init__(self, *, name: str) -> None:
        self.name = name

    @property
    def path(self) -> Path:
        return Path(settings.NOTIFICATIONS_OUTBOX_DIR) / f"{self.name}.jsonl"

    def send(self, message: OutgoingMessage) -> SendResult:
        provider_id = f"local-{uuid.uuid4().hex}"
        record = {
            "id": provider_id,
            "message_id": message.message_id,
            "channel": self.name,
            "to": message.to_address,
            "subject": message.subject,
            "body": message.body_text,
            "url": message.link_url,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        logger.info("%s to %s: %s", self.name, message.to_address, message.body_text[:120])
        return SendResult(provider=self.provider, provider_message_id=provider_id)
