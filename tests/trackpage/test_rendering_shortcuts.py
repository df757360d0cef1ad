"""Shortcuts of the page's rendering give exactly what they replace: Babel's medium date-time,
and Django's `reverse` for the page's own URLs (also under a script prefix, and for values that
`reverse` would quote or refuse)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from babel import dates as babel_dates
from django.urls import NoReverseMatch, reverse, set_script_prefix

from trackpage import links
from trackpage.presentation import babel_locale, format_when
from trackpage.rendering import path

MOMENTS = [
    datetime(2026, 3, 8, 6, 59, tzinfo=UTC),  # around New York's switch to summer time
    datetime(2026, 3, 8, 7, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # London's switch back
    datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 11, 21, 9, 0),  # naive: Babel reads it as UTC
]


@pytest.mark.parametrize("language", ["en", "ja", "de", "pt-br"])
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Europe/London", "Asia/Tokyo"])
def test_format_when_is_babels_medium_datetime(language, zone):
    import zoneinfo

    for moment in [*MOMENTS, *(MOMENTS[0] + timedelta(minutes=37 * i) for i in range(40))]:
        assert format_when(moment, zone=zone, language=language) == babel_dates.format_datetime(
            moment, format="medium", tzinfo=zoneinfo.ZoneInfo(zone), locale=babel_locale(language)
        )


def _reverse(name: str, slug: str, **values: str) -> str:
    return reverse(name, kwargs={"merchant_slug": slug, **values})


def test_path_is_reverse():
    token = links.go_token(
        merchant_slug="aurora",
        target=links.GoTarget(
            url="https://www.aurora.example/p/x", kind="product", order_number="1"
        ),
    )
    cases = [
        ("trackpage:lookup", {}),
        ("trackpage:go", {"token": token}),
        ("trackpage:live", {"token": "token-slot-9d41c2"}),
        ("trackpage:rate", {"token": "abc:def-ghi_jk"}),
        ("trackpage:calendar", {"token": token, "shipment": "shp_01HXYZ"}),
        ("trackpage:go", {"token": "needs quoting é"}),  # through reverse itself
    ]
    for slug in ("aurora", "aurora-jp"):
        for name, values in cases:
            assert path(name, slug, **values) == _reverse(name, slug, **values)
    set_script_prefix("/platform/")
    try:
        assert path("trackpage:go", "aurora", token=token) == _reverse(
            "trackpage:go", "aurora", token=token
        )
        assert path("trackpage:go", "aurora", token=token).startswith("/platform/aurora/")
    finally:
        set_script_prefix("/")


def test_path_refuses_what_reverse_refuses():
    with pytest.raises(NoReverseMatch):
        path("trackpage:go", "aurora", token="a/b")
    with pytest.raises(NoReverseMatch):
        path("trackpage:go", "aurora", token="")
