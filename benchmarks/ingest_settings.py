"""Settings of the gunicorn the ingest benchmark starts: the project's, plus a bare view URL."""

from postpurchase.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.ingest_urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
