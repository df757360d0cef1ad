"""The one decorator every Celery task goes through.

It gives each task an explicit, stable name, late acknowledgement (tasks are idempotent),
time limits below the broker's visibility timeout and bounded retries of transient errors only.
"""

from collections.abc import Callable
from typing import Any

from celery import Task

from postpurchase.celery import app
from postpurchase.errors import TransientIntegrationError


def platform_task(
    *,
    name: str,
    max_retries: int = 5,
    soft_time_limit: int = 240,
    time_limit: int = 300,
    retry_on: tuple[type[BaseException], ...] = (TransientIntegrationError,),
    **options: Any,
) -> Callable[[Callable[..., Any]], Task]:
    """Register a task under `name` with the platform's reliability defaults."""

    def decorator(fn: Callable[..., Any]) -> Task:
        task: Task = app.task(
            name=name,
            bind=options.pop("bind", False),
            acks_late=True,
            reject_on_worker_lost=True,
            autoretry_for=retry_on,
            max_retries=max_retries,
            retry_backoff=2,
            retry_backoff_max=600,
            retry_jitter=True,
            soft_time_limit=soft_time_limit,
            time_limit=time_limit,
            **options,
        )(fn)
        return task

    return decorator
