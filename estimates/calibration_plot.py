"""A calibration plot as inline SVG, drawn on the server (no chart library, no CDN).

Each point is a nominal level (P10, P50, P90, the promise's target) against the share of
held-out shipments actually delivered by that date; a calibrated model sits on the diagonal.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

SIZE = 220
MARGIN = 30


def _x(value: float) -> float:
    return MARGIN + value * (SIZE - 2 * MARGIN)


def _y(value: float) -> float:
    return SIZE - MARGIN - value * (SIZE - 2 * MARGIN)


def calibration_svg(points: Sequence[Sequence[float]], *, title: str) -> SafeString:
    """An SVG of (nominal, observed) pairs with the ideal diagonal and labelled axes."""
    clean = [(float(p[0]), float(p[1])) for p in points if len(p) == 2]
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="9" text-anchor="middle">{}</text>'
        '<text x="{}" y="{}" font-size="9" text-anchor="end">{}</text>',
        (
            (
                f"{_x(t):.1f}",
                SIZE - MARGIN + 12,
                f"{t:.0%}",
                MARGIN - 4,
                f"{_y(t) + 3:.1f}",
                f"{t:.0%}",
            )
            for t in (0.0, 0.5, 1.0)
        ),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="4" fill="#1f4bd8"><title>{}</title></circle>',
        (
            (f"{_x(n):.1f}", f"{_y(o):.1f}", f"level {n:.0%}: {o:.1%} delivered by then")
            for n, o in clean
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        'viewBox="0 0 {size} {size}" role="img" aria-label="{title}">'
        "<title>{title}</title>"
        '<rect x="{m}" y="{m}" width="{inner}" height="{inner}" fill="none" stroke="#bbb"/>'
        '<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#999" stroke-dasharray="4 3"/>'
        "{ticks}{dots}"
        '<text x="{mid}" y="{bottom}" font-size="10" text-anchor="middle">nominal level</text>'
        '<text x="10" y="{mid}" font-size="10" text-anchor="middle" '
        'transform="rotate(-90 10 {mid})">observed share</text>'
        "</svg>",
        size=SIZE,
        m=MARGIN,
        inner=SIZE - 2 * MARGIN,
        x0=_x(0),
        y0=_y(0),
        x1=_x(1),
        y1=_y(1),
        ticks=ticks,
        dots=dots,
        mid=SIZE // 2,
        bottom=SIZE - 4,
        title=title,
    )
