"""WSGI entry of the ingest benchmark's gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.ingest_settings")
application = get_wsgi_application()
