"""Reading outside JSON defensively: every accessor names the path it failed on.

Adapters read carrier payloads only through these, so a malformed payload always becomes a
`CarrierParseError` with a clear reason and never a `KeyError`/`TypeError` deep in an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from babel.core import get_global

from tracking.domain import CarrierParseError

JsonObject = Mapping[str, Any]


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def as_object(value: object, where: str) -> JsonObject:
    """`value` as a JSON object, or a parse error naming `where`."""
    if not isinstance(value, Mapping):
        raise CarrierParseError(f"{where}: expected an object, got {_kind(value)}")
    return value


def as_array(value: object, where: str) -> Sequence[Any]:
    """`value` as a JSON array, or a parse error naming `where`."""
    if not isinstance(value, list | tuple):
        raise CarrierParseError(f"{where}: expected an array, got {_kind(value)}")
    return value


def obj(parent: JsonObject, key: str, where: str) -> JsonObject:
    """The object at `parent[key]`; an absent or null member reads as an empty object."""
    value = parent.get(key)
    if value is None:
        return {}
    return as_object(value, f"{where}.{key}")


def required_obj(parent: JsonObject, key: str, where: str) -> JsonObject:
    """The object at `parent[key]`, which must be present."""
    if parent.get(key) is None:
        raise CarrierParseError(f"{where}.{key}: missing")
    return as_object(parent[key], f"{where}.{key}")


def array(parent: JsonObject, key: str, where: str) -> Sequence[Any]:
    """The array at `parent[key]`; an absent or null member reads as an empty array."""
    value = parent.get(key)
    if value is None:
        return []
    return as_array(value, f"{where}.{key}")


def required_array(parent: JsonObject, key: str, where: str) -> Sequence[Any]:
    """The array at `parent[key]`, which must be present."""
    if parent.get(key) is None:
        raise CarrierParseError(f"{where}.{key}: missing")
    return as_array(parent[key], f"{where}.{key}")


def as_text(value: object, where: str) -> str:
    """`value` as a string (numbers are accepted as their decimal text); null reads as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise CarrierParseError(f"{where}: expected a string, got {_kind(value)}")


def text(parent: JsonObject, key: str, where: str) -> str:
    """A string member (numbers are accepted as their decimal text); absent or null reads as ""."""
    return as_text(parent.get(key), f"{where}.{key}")


def required_text(parent: JsonObject, key: str, where: str) -> str:
    """A non-blank string member, or a parse error saying it is missing."""
    value = text(parent, key, where).strip()
    if not value:
        raise CarrierParseError(f"{where}.{key}: missing")
    return value


def flag(parent: JsonObject, key: str, where: str) -> bool:
    """A boolean member; JSON true/false or the strings "true"/"false"; absent reads as False."""
    value = parent.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise CarrierParseError(f"{where}.{key}: expected true or false, got {_kind(value)}")


def country_alpha2(value: str) -> str:
    """An ISO 3166 alpha-2 code from alpha-2 or alpha-3 ("USA" -> "US"); other text unchanged."""
    code = value.strip().upper()
    if len(code) == 3 and code.isalpha():
        aliases = get_global("territory_aliases").get(code)
        if aliases and len(aliases) == 1 and len(aliases[0]) == 2:
            return str(aliases[0])
    return code if len(code) == 2 else value.strip()
