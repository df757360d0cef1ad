"""Filter fields shared by the API's lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """Python accepts offsets up to ±23:59 but PostgreSQL only ±15:59, so the value is converted
    to UTC before it reaches the database; one that cannot be (year 9999 at -18:00) is invalid."""

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError("This date-time is out of range.") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 date-time, compared in UTC; errors are reported on the query parameter."""

    field_class = UtcIsoDateTimeField
