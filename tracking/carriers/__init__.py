"""Carrier and aggregator adapters: a registry from a source name to its adapter.

Each source is one module here with a pure `parse(payload) -> list[ParsedEvent]` and a versioned
code table; webhook sources add `event_id(payload)` (for deduplication) and `tracking_ref(payload)`;
pollable carriers have an HTTP client in `tracking.carriers.clients`. Adding a source is adding
one module and one line in `ADAPTER_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from tracking.domain import ParsedEvent


class SourceKind(StrEnum):
    CARRIER_API = "carrier_api"  # a carrier's tracking API response (pollable)
    AGGREGATOR = "aggregator"  # a tracking aggregator's webhook
    STORE = "store"  # a store platform's fulfillment events
    GENERIC = "generic"  # our own documented JSON format


ADAPTER_MODULES: dict[str, str] = {
    "ups": "tracking.carriers.ups",
    "fedex": "tracking.carriers.fedex",
    "usps": "tracking.carriers.usps",
    "dhl": "tracking.carriers.dhl",
    "easypost": "tracking.carriers.easypost",
    "aftership": "tracking.carriers.aftership",
    "shippo": "tracking.carriers.shippo",
    "shopify": "tracking.carriers.shopify",
    "generic": "tracking.carriers.generic",
}

ParseFn = Callable[[Any], list[ParsedEvent]]
EventIdFn = Callable[[Any], str]
TrackingRefFn = Callable[[Any], tuple[str, str]]


class UnknownSourceError(KeyError):
    """No adapter is registered under this source name."""


@dataclass(frozen=True)
class CarrierAdapter:
    """One source's adapter: what the ingest pipeline calls for that source's payloads.

    `parse` raises only `CarrierParseError`. `event_id` and `tracking_ref` are set for webhook
    sources (aggregators, Shopify, generic) and raise `CarrierParseError` when absent/malformed.
    """

    source: str
    kind: SourceKind
    code_table_version: str
    parse: ParseFn
    event_id: EventIdFn | None = None
    tracking_ref: TrackingRefFn | None = None

    @property
    def pollable(self) -> bool:
        return self.kind is SourceKind.CARRIER_API


@cache
def _load(source: str) -> CarrierAdapter:
    module = importlib.import_module(ADAPTER_MODULES[source])
    return CarrierAdapter(
        source=source,
        kind=SourceKind(module.SOURCE_KIND),
        code_table_version=module.CODE_TABLE_VERSION,
        parse=module.parse,
        event_id=getattr(module, "event_id", None),
        tracking_ref=getattr(module, "tracking_ref", None),
    )


def get_adapter(source: str) -> CarrierAdapter:
    """The adapter registered as `source` ("ups", "easypost", ...)."""
    if source not in ADAPTER_MODULES:
        known = ", ".join(sorted(ADAPTER_MODULES))
        raise UnknownSourceError(f"no carrier adapter {source!r} (known: {known})")
    return _load(source)


def adapters() -> dict[str, CarrierAdapter]:
    """Every registered adapter by source name."""
    return {source: get_adapter(source) for source in ADAPTER_MODULES}
