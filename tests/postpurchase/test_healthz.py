"""/healthz: 200 when the database and broker answer, 503 with the failing check otherwise."""

from __future__ import annotations

import pytest
from django.db.utils import ConnectionHandler

from postpurchase import views

pytestmark = pytest.mark.django_db

# Nothing listens here (the integration tests use the same port for "broker down").
DEAD_REDIS = "redis://127.0.0.1:6390/2"


def test_embedded_mode_is_healthy_with_eager_tasks(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"] == {"ok": True, "mode": "eager"}
    assert "no-cache" in response["Cache-Control"]


def test_unreachable_broker_answers_503(client, settings):
    settings.CELERY_BROKER_URL = DEAD_REDIS
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.broker
def test_reachable_broker_is_healthy(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == {"ok": True, "mode": "broker"}


def test_unreachable_database_answers_503(client, settings, monkeypatch):
    settings.CELERY_BROKER_URL = ""
    dead = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "postpurchase",
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": "1",
                "OPTIONS": {"connect_timeout": 2},
            }
        }
    )["default"]
    monkeypatch.setattr(views, "connection", dead)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


def test_only_get_is_allowed(client):
    assert client.post("/healthz").status_code == 405


def test_health_probe_over_plain_http_is_not_redirected(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.CELERY_BROKER_URL = ""
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/{settings.ADMIN_URL}").status_code == 301  # everything else is
