"""Settings of the Celery worker that the integration tests start: the project's settings, plus
the probe app, on a queue of the test's own (so nothing else's messages reach it)."""

import os

from postpurchase.settings import *  # noqa: F403
from postpurchase.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.probe_app"]
CELERY_TASK_DEFAULT_QUEUE = os.environ["PROBE_QUEUE"]
