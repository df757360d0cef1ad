"""Settings: every variable documented, production refuses to start insecure, deploy check clean.

The production checks run `manage.py` in a subprocess with a clean environment, so what they
see is exactly the documented production variables (docs/operations.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)

# The production environment docs/operations.md documents (values are examples).
PRODUCTION_ENV = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "k3Vt9-production-secret-example-4mQ7zR2xP8wL5nB1cJ6hD0fG3sA9yE2uT7",
    "ALLOWED_HOSTS": "post.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://post.example.com",
    "SECURE_HSTS_SECONDS": "31536000",
    "DATABASE_URL": "postgres://postpurchase:secret@db:5432/postpurchase",
    "CELERY_BROKER_URL": "redis://redis:6379/0",
    "CACHE_URL": "rediscache://redis:6379/1",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _settings_variables() -> set[str]:
    source = (BASE_DIR / "postpurchase" / "settings.py").read_text()
    names = set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    # Per-carrier API budgets are read in a loop: f"{carrier.upper()}_API_RATE_PER_SECOND".
    for carrier in getattr(settings, "CARRIER_API_RATE_LIMITS", {}):
        names |= {f"{carrier.upper()}_API_RATE_PER_SECOND", f"{carrier.upper()}_API_BURST"}
    return names


def _documented_variables() -> dict[str, str]:
    """Variable name -> the comment line above it in .env.example."""
    documented: dict[str, str] = {}
    previous = ""
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            documented[match.group(1)] = previous
        previous = line
    return documented


def test_every_environment_variable_is_documented_with_a_line_of_its_own():
    documented = _documented_variables()
    variables = _settings_variables()
    assert "DATABASE_URL" in variables  # the scan itself works
    missing = sorted(variables - documented.keys())
    assert missing == [], f"add these to .env.example: {missing}"
    unexplained = sorted(
        name
        for name in variables
        if not documented[name].startswith("# ") or re.match(r"^#\s*[A-Z_]+=", documented[name])
    )
    assert unexplained == [], f"give these a one-line explanation above them: {unexplained}"


def test_deploy_check_is_clean_with_the_documented_production_variables():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_fails_when_a_security_setting_is_missing():
    insecure = {**PRODUCTION_ENV, "SECURE_HSTS_SECONDS": "0"}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=insecure)
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_no_environment_runs_embedded_on_sqlite_with_eager_tasks():
    result = _manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)",
        env={},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "False"]


def test_admin_urls_come_from_the_environment():
    result = _manage(
        "shell",
        "--verbosity=0",
        "-c",
        "from django.urls import reverse; print(reverse('console:index'), reverse('ops:index'))",
        env={"ADMIN_URL": "backoffice", "OPS_ADMIN_URL": "/platform-ops/"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["/backoffice/", "/platform-ops/"]
