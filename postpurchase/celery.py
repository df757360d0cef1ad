"""The Celery application. Settings come from Django settings prefixed CELERY_."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

app = Celery("postpurchase")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if not app.conf.broker_url:
    # Embedded default: tasks run eagerly and never reach a broker; an in-memory transport keeps
    # kombu from reaching for amqp://localhost (and warning about it) when a producer is built.
    app.conf.broker_url = "memory://localhost/"
