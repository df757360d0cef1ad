"""Headless Chromium for shopper-page tests: the browser, viewports and the axe-core check.

axe-core is bundled in tests/trackpage/vendor (no CDN); screenshots go to artifacts/screenshots/,
which CI keeps as artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "trackpage" / "vendor" / "axe-4.14.1.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
LOCALES = {"en": "en-US", "ja": "ja-JP"}


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(
        executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
    )


def watch_outside_requests(page: Any, base_url: str) -> list[str]:
    """A list that fills with every URL the page asks for outside the app (CDN, fonts, ...)."""
    outside: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(base_url) else outside.append(request.url),
    )
    return outside
