"""Property-based run over the OpenAPI schema (schemathesis), in-process against the WSGI app.

Every operation gets generated valid and invalid requests; the API must never answer 5xx and
every answer must match the documented status codes, content type, headers and response schema.

Two of schemathesis' checks are left out on purpose: `positive_data_acceptance` (the schema
cannot express our business rules: "ABC" is a three-letter string but not a currency, so a
400 is right) and `negative_data_rejection` (query filters are lenient by design: an empty
`?updated_after=` means "no filter", as django-filter does everywhere).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from postpurchase.wsgi import application

# The store-data endpoints (orders, customers, products, shipments); other apps run their own.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).include(
    path_regex=r"^/api/v1/(orders|customers|products|shipments)/"
)


@pytest.fixture
def _keep_test_connection():  # type: ignore[no-untyped-def]
    """Calls go straight to the WSGI app, whose request signals would close the test's database
    connection (and its transaction) on PostgreSQL; Django's own test client unhooks them too."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_test_connection")
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    # CI replays the same examples every run (a red CI is a real regression); local runs explore.
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_honours_its_schema(case, api_key_a):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {api_key_a.secret}"},
        excluded_checks=[checks.positive_data_acceptance, checks.negative_data_rejection],
    )
