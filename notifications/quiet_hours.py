"""Quiet hours: is it too late (or too early) to message someone where they are?"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta


def zone_or_default(*candidates: str) -> str:
    """The first candidate that is a known IANA zone (destination, customer, merchant), else UTC."""
    for candidate in candidates:
        if candidate:
            try:
                zoneinfo.ZoneInfo(candidate)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
            return candidate
    return "UTC"


def quiet_until(*, now: datetime, zone: str, start: time, end: time) -> datetime | None:
    """When quiet hours end if `now` falls inside them in `zone`, else None.

    The window may wrap midnight (21:00-08:00). The end is computed in local wall time, so a
    daylight-saving change overnight still releases at 08:00 local.
    """
    if start == end:
        return None
    tz = zoneinfo.ZoneInfo(zone)
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(zoneinfo.ZoneInfo("UTC"))


def local_day_bounds(*, now: datetime, zone: str) -> tuple[datetime, datetime]:
    """The start and end (UTC) of the local calendar day containing `now` in `zone`."""
    tz = zoneinfo.ZoneInfo(zone)
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), time(0), tzinfo=tz)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    return start, end
