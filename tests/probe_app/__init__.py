"""A test-only Django app loaded by the Celery worker of the integration tests.

It subscribes a probe handler to `order.created` in the worker process only, so a `HandlerRun`
named `probe.order_created` (and the Redis counter it bumps) proves the worker, not the test
process, ran it.
"""
