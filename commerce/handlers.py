"""Reactions of the store's data to its own domain events (registered in `apps.py`)."""

from __future__ import annotations

from collections.abc import Sequence

from commerce import stats
from postpurchase.models import DomainEvent

# Events after which an order's lines may differ from what they added to the purchase statistics.
PURCHASE_STATS_ON = ("order.created", "order.updated")


def purchase_stats_sync(event: DomainEvent) -> None:
    """Bring the order's share of the bought-together and best-seller figures up to its lines."""
    stats.purchase_stats_sync(order_ids=[int(event.data["order_id"])])


def purchase_stats_sync_many(events: Sequence[DomainEvent]) -> None:
    """The same for a batch of events (an import): one transaction, set-based upserts."""
    stats.purchase_stats_sync(order_ids=[int(event.data["order_id"]) for event in events])
