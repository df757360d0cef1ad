"""Versioned tables from a carrier's codes to our status, exception reason and action flag.

A code no table knows is not an error: the event is kept with the carrier's code and text, given
the table's safe fallback status and `mapped=False`, so ops can count it and extend the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tracking.domain import ExceptionReason, ShipmentStatus

S = ShipmentStatus
R = ExceptionReason


@dataclass(frozen=True)
class CodeMapping:
    """What one carrier code means in our terms."""

    status: ShipmentStatus
    reason: ExceptionReason = ExceptionReason.NONE
    action_required: bool = False


@dataclass(frozen=True)
class Lookup:
    mapping: CodeMapping
    mapped: bool


class CodeTable:
    """One carrier's code table; `version` is stamped on every event it maps."""

    def __init__(
        self,
        version: str,
        entries: Mapping[str, CodeMapping],
        *,
        fallback: CodeMapping,
        case_sensitive: bool = False,
    ) -> None:
        self.version = version
        self.fallback = fallback
        self.case_sensitive = case_sensitive
        self._entries = {self._key(code): mapping for code, mapping in entries.items()}

    def _key(self, code: str) -> str:
        code = code.strip()
        return code if self.case_sensitive else code.upper()

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self._key(code) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, code: str) -> CodeMapping | None:
        """The mapping for `code`, or None when the table does not know it."""
        return self._entries.get(self._key(code))

    def lookup(self, code: str, *, fallback: CodeMapping | None = None) -> Lookup:
        """The mapping for `code`, or the (given or table) fallback marked unmapped."""
        found = self.get(code)
        if found is not None:
            return Lookup(found, mapped=True)
        return Lookup(fallback or self.fallback, mapped=False)

    def codes(self) -> list[str]:
        """Every code the table maps (normalised), for docs and tests."""
        return sorted(self._entries)


def mapping(
    status: ShipmentStatus,
    reason: ExceptionReason = ExceptionReason.NONE,
    *,
    action: bool = False,
) -> CodeMapping:
    """Short constructor for table literals."""
    return CodeMapping(status, reason, action)
