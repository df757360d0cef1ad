"""Post-purchase platform: project package and platform kernel."""

from postpurchase.celery import app as celery_app

__all__ = ["celery_app"]
