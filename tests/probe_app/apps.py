from __future__ import annotations

import os

from django.apps import AppConfig

PROBE_HANDLER = "probe.order_created"


def probe_key(event_id: str) -> str:
    return f"{os.environ.get('PROBE_QUEUE', 'probe')}:calls:{event_id}"


class ProbeConfig(AppConfig):
    name = "tests.probe_app"
    label = "probe_app"

    def ready(self) -> None:
        from postpurchase import outbox
        from tests.probe_app.handlers import order_created

        outbox.register("order.created", PROBE_HANDLER, order_created)
