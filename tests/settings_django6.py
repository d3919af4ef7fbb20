"""Minimal settings for the durable backend's own tests on Django 6's built-in ``django.tasks``.

``make test-django6`` runs ``tests/test_durable_backend.py`` with these in a Python 3.13 venv that has
Django 6 and no ``django-tasks`` backport, so "runs unchanged on Django 6" is checked, not hoped.
The rest of the project (the outbox, reports, operations) still needs the backport and is not loaded.
"""

from pathlib import Path

from mysite.queue import huey_settings

VAR = Path(__file__).resolve().parent.parent / "var" / "django6"
VAR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = "django6-check-only-not-a-secret"
INSTALLED_APPS = ["huey.contrib.djhuey", "durable"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR / "db.sqlite3"),
        "TEST": {"NAME": str(VAR / "test-db.sqlite3")},
    }
}
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
HUEY = huey_settings(f"sqlite:///{VAR / 'huey.sqlite3'}")
TASKS = {"default": {"BACKEND": "durable.backend.DurableBackend"}}
DURABLE_LEASE_SECONDS = 60
DURABLE_MAX_ATTEMPTS = 3
DURABLE_BATCH_SIZE = 25
DURABLE_BATCH_SECONDS = 0.5
DURABLE_GROUP_LIMITS = {}
DURABLE_WAKE_AFTER_SECONDS = 30
DURABLE_RESERVED_WORKERS = 1
DURABLE_SWITCH_INTERVAL_MS = 1
DURABLE_RETENTION_DAYS = 14
DURABLE_HEALTH_MAX_WAIT_SECONDS = 600
