"""gunicorn config of the tracking-page benchmark: the same for the bare view and the page.

After start-up the application's objects (modules, templates, URL resolvers, translations) are
moved to the permanent generation with `gc.freeze()`, so the cyclic collector does not scan them
again on every collection of a request's garbage (and forked workers share them copy-on-write).
"""

from __future__ import annotations

import gc
from typing import Any


def post_fork(server: Any, worker: Any) -> None:
    gc.freeze()
