"""What keeps each test, and each test process, to itself: its database file, its files, its mail backend."""

import pytest
from django.conf import settings as django_settings


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """An SQLite test database is a file of this test process's own temporary directory (a consumer opens it
    too), never one in the site's ``var/``; a ``TEST`` ``NAME`` in the settings still wins. (pytest-django
    gives PostgreSQL test databases a ``_gw0``-style suffix per pytest-xdist worker.)"""
    for db in django_settings.DATABASES.values():
        test = db.setdefault("TEST", {})
        if db["ENGINE"].endswith("sqlite3") and not test.get("NAME"):
            test["NAME"] = str(tmp_path_factory.getbasetemp() / "test-db.sqlite3")


@pytest.fixture(autouse=True)
def _outbox_backend(settings):
    """Django's test set-up swaps EMAIL_BACKEND for locmem; mysite's mail goes through the outbox."""
    settings.EMAIL_BACKEND = "notifications.backend.OutboxBackend"


@pytest.fixture(autouse=True)
def _private_paths(settings, tmp_path):
    """Every file a test (or its consumers) writes goes under its own ``tmp_path``, never the site's ``var/``."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.REPORTS_ROOT = str(tmp_path / "media" / "private" / "reports")
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")


@pytest.fixture(autouse=True)
def _nothing_held_after_the_test():
    """Rows a test left claimed in this process stay its own: the lease monitor does not go on renewing them in
    later tests, or after the test database is gone."""
    yield
    from durable import lifeline

    for kind in lifeline.KINDS.values():
        kind.leases.forget_all()
