"""A full disk: a request that cannot write answers 503 with a clear page; /health/ warns before it comes to that."""

from contextlib import contextmanager

import pytest
from django.contrib.auth.models import User
from django.db import connection

from operations import health
from tests.reports_data import OPERATIONS, grant

PASSWORD = "a-Long-pass-42"
SIGNUP = {"username": "ada", "email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD}

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def database_full():
    """SQLite's own SQLITE_FULL, for real: the database file may not grow past the pages it has now.

    VACUUM first: after the suite's other tests the file holds free pages that would take many rows before
    it has to grow.
    """
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA page_count")
        (pages,) = cursor.fetchone()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA max_page_count = 1073741823")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="fills a SQLite database")
def test_a_request_that_cannot_write_answers_503_with_a_clear_page(client, caplog, settings):
    settings.RATELIMIT_ENABLE = False
    with database_full():
        for n in range(500):  # until the room left inside the file's last pages is used up
            response = client.post("/accounts/signup/", {**SIGNUP, "username": f"ada{n}", "email": f"a{n}@x.org"})
            if response.status_code != 302:
                break

    assert response.status_code == 503
    assert response["Retry-After"] == "300"
    assert "run out of storage space" in response.content.decode()
    assert "database cannot write" in caplog.text
    assert not User.objects.filter(username=f"ada{n}").exists()  # nothing half-written
    assert client.post("/accounts/signup/", {**SIGNUP, "username": "later"}).status_code == 302  # space again


def test_health_fails_when_free_space_is_below_the_setting(client, settings):
    client.force_login(grant(User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True), *OPERATIONS))

    settings.OPERATIONS_DISK_FREE_MIN_PERCENT = 100
    low = client.get("/health/").json()["checks"]["disk"]
    settings.OPERATIONS_DISK_FREE_MIN_PERCENT = 0
    fine = health.report()["checks"]["disk"]

    if connection.vendor == "sqlite":
        assert low["ok"] is False and "free on the database's filesystem (limit 100 %)" in low["error"]
        assert fine["ok"] is True and 0 < fine["free_percent"] < 100
    else:
        assert low["ok"] is True and low["checked"] is False  # PostgreSQL's disk is its server's
