"""Settings of the gunicorn the tracking-page benchmark starts: the project's, plus a bare view."""

from postpurchase.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.tracking_page_urls"
LOGGING = {"version": 1, "disable_existing_loggers": True, "root": {"level": "ERROR"}}
