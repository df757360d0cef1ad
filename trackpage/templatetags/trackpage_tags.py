"""Template helpers of the tracking page."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    """`{{ mapping|get_item:key }}`: a dict lookup with a variable key."""
    return mapping.get(key, "") if mapping else ""
