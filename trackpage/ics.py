"""The delivery window as an iCalendar (RFC 5545) all-day event the shopper can add."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts: list[str] = []
    chunk = b""
    for char in line:
        piece = char.encode()
        if len(chunk) + len(piece) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += piece
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def delivery_window_ics(
    *,
    uid: str,
    start: date,
    end: date,
    summary: str,
    description: str,
    url: str,
    stamp: datetime | None = None,
) -> str:
    """One all-day VEVENT from `start` to `end` inclusive (DTEND is exclusive, hence +1 day)."""
    stamped = (stamp or timezone.now()).astimezone(UTC)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//postpurchase//tracking page//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamped:%Y%m%dT%H%M%SZ}",
        f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
        f"DTEND;VALUE=DATE:{end + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{_escape(summary)}",
        f"DESCRIPTION:{_escape(description)}",
        f"URL:{url}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
