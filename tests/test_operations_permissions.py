"""Who sees operations (issue 20, finding 6): ``is_staff`` alone opens the admin's index and nothing more."""

import pytest
from django.contrib.auth.models import User

from durable.models import Task
from tests.reports_data import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    client.force_login(user)
    return user


def test_staff_with_no_permission_see_no_operations(client, staff, settings):
    settings.METRICS_TOKEN = "t0ken"

    assert client.get("/operations/").status_code == 403
    assert client.get("/metrics").status_code == 401
    assert client.get("/health/").json().keys() == {"status"}  # what a load balancer gets, no probes
    assert client.post("/operations/test-email/", {"to": "anyone@example.com"}).status_code == 403
    assert not Task.objects.exists()
    assert 'href="/operations/"' not in client.get("/admin/").content.decode()


def test_the_view_permission_opens_the_page_metrics_and_probes_but_not_the_test_email(client, staff):
    grant(staff, "operations.view_operations")

    page = client.get("/operations/")
    assert page.status_code == 200 and 'id="ops-test-email"' not in page.content.decode()
    assert client.get("/metrics").status_code == 200
    assert "checks" in client.get("/health/").json()
    assert 'href="/operations/"' in client.get("/admin/").content.decode()
    assert client.post("/operations/test-email/", {"to": "anyone@example.com"}).status_code == 403


def test_the_test_email_is_throttled_per_account(client, staff, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "test_email": {"account": "3/d"}}
    grant(staff, "operations.view_operations", "operations.send_test_email")
    assert 'id="ops-test-email"' in client.get("/operations/").content.decode()

    answers = [client.post("/operations/test-email/", {"to": f"x{n}@example.com"}).status_code for n in range(5)]

    assert answers == [302, 302, 302, 429, 429]
    assert Task.objects.count() == 3  # durable tasks: rows
