"""WSGI entry of the tracking-page benchmark's gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.tracking_page_settings")
application = get_wsgi_application()
