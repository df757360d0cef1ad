"""The probe handler: counts its calls per event in Redis (outside the database transaction,
so a second call would show even if its database writes rolled back)."""

from __future__ import annotations

import os

import redis

from postpurchase.models import DomainEvent
from tests.probe_app.apps import probe_key


def order_created(event: DomainEvent) -> None:
    client = redis.Redis.from_url(os.environ["PROBE_REDIS_URL"])
    try:
        client.incr(probe_key(str(event.pk)))
        client.expire(probe_key(str(event.pk)), 3600)
    finally:
        client.close()
