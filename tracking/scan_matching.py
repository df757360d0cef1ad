"""Cross-source matching: one physical scan reported by the carrier and by an aggregator.

The scan key (`tracking.scan_keys`) includes the reporter's code, and aggregators (EasyPost,
AfterShip, Shippo) report a carrier's scan with codes and texts of their own, so a parcel followed
both through an aggregator's webhooks and by polling the carrier's API would show each scan twice.
Each carrier and aggregator scan therefore also gets a *match key*: a 64-bit hash of its UTC
minute, normalised status and normalised place (city, postcode, country; region is left out, as
"FL" and "Florida" are one place). Within one shipment, an aggregator scan and a carrier scan with
the same match key are the same scan; the carrier's row wins and the aggregator's is kept, hidden,
with `duplicate_of` pointing at it (so a re-delivery of the aggregator's history is still
recognised by its own scan key).

Matching counts: each carrier row absorbs at most one aggregator row, so two genuine scans that
look alike (two "in transit" scans in the same minute at one hub, reported by both sources) stay
two events (a multiset match, not a set match). Links are only ever added, never moved, and are
computed from the stored rows under the shipments' locks, so the outcome does not depend on which
source arrived first or on the path (worker or bulk import) that brought them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from tracking.models import ScanOrigin

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_US_ZIP = re.compile(r"(\d{5})(\d{4})?")
_US_LIKE = frozenset({"", "US", "PR", "VI", "GU", "AS", "MP"})

# Which adapter kinds (tracking.carriers.SourceKind values) take part in matching.
_ORIGIN_OF_KIND = {"carrier_api": ScanOrigin.CARRIER, "aggregator": ScanOrigin.AGGREGATOR}


def origin_of_kind(kind: str) -> ScanOrigin:
    """The scan origin of an adapter kind: carrier APIs and aggregators match, others never."""
    return _ORIGIN_OF_KIND.get(kind, ScanOrigin.OTHER)


def _city(value: str) -> str:
    # Accents, case, punctuation and spacing differ between reporters ("ST. LOUIS", "St Louis").
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(_NOT_ALNUM.sub(" ", plain).split())


def _postcode(value: str, country: str) -> str:
    code = _NOT_ALNUM.sub("", value.casefold())
    if country in _US_LIKE:
        zip_code = _US_ZIP.fullmatch(code)
        if zip_code:
            return zip_code.group(1)  # ZIP+4 and ZIP are one place
    return code


@lru_cache(maxsize=65536)
def place_text(city: str, postcode: str, country: str) -> str:
    """The normalised place a match compares: city, postcode (ZIP5 in the US) and country."""
    country_code = country.strip().upper()
    return f"{_city(city)}|{_postcode(postcode, country_code)}|{country_code}"


@lru_cache(maxsize=131072)
def _key_of(minute: int, status: str, place: str) -> int:
    digest = hashlib.blake2b(f"{minute}\x1f{status}\x1f{place}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def match_key(occurred_at: datetime, status: str, city: str, postcode: str, country: str) -> int:
    """The match key of a scan: same UTC minute, status and place give the same key."""
    minute = (occurred_at - _EPOCH) // _MINUTE
    return _key_of(minute, status, place_text(city, postcode, country))


def match_key_for(
    origin: int, occurred_at: datetime, status: str, city: str, postcode: str, country: str
) -> int | None:
    """The match key of a scan of this origin, None when the origin never matches."""
    if origin == ScanOrigin.OTHER:
        return None
    return match_key(occurred_at, status, city, postcode, country)


class ScanFacts(NamedTuple):
    """What matching needs of one stored scan of a shipment."""

    row_id: int
    origin: int
    match_key: int | None
    duplicate_of: int | None


def pair_scans(rows: Iterable[ScanFacts]) -> dict[int, int]:
    """New links {aggregator row id: carrier row id} among one shipment's scans.

    Per match key, carrier rows not yet partnered take the visible aggregator rows one each,
    both in id order; existing links stay as they are.
    """
    carriers: dict[int, list[int]] = defaultdict(list)
    aggregators: dict[int, list[int]] = defaultdict(list)
    taken: set[int] = set()
    for row in rows:
        if row.duplicate_of is not None:
            taken.add(row.duplicate_of)
        elif row.match_key is not None and row.origin == ScanOrigin.AGGREGATOR:
            aggregators[row.match_key].append(row.row_id)
        if row.match_key is not None and row.origin == ScanOrigin.CARRIER:
            carriers[row.match_key].append(row.row_id)
    links: dict[int, int] = {}
    for key, visible in aggregators.items():
        free = [c for c in sorted(carriers.get(key, ())) if c not in taken]
        links.update(zip(sorted(visible), free, strict=False))
    return links
