"""Reports in the admin: list with every filter, the traceback for staff, the cancel and retry actions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reports.models import Report
from tests.reports_data import user

pytestmark = pytest.mark.django_db(transaction=True)
RANGE = {"start": "2026-03-01", "end": "2026-03-02"}


@pytest.fixture
def admin_client(client):
    client.force_login(user("root", is_staff=True, is_superuser=True))
    return client


def report(owner, status, seconds=None, error="", **extra):
    now = timezone.now()
    return Report.objects.create(
        owner=owner,
        type="signups-per-day",
        params=RANGE,
        status=status,
        error=error,
        started_at=now - timedelta(seconds=seconds) if seconds is not None else None,
        finished_at=now if seconds is not None else None,
        **extra,
    )


def ids(response):
    return sorted(r.pk for r in response.context["cl"].result_list)


def test_the_filters_find_what_they_say(admin_client):
    ada, bob = user("ada"), user("bob")
    quick = report(ada, "done", 2)
    slow = report(bob, "failed", 700, error="The report took longer", traceback="Traceback: boom")
    queued = report(ada, "queued")

    url = "/admin/reports/report/"
    assert ids(admin_client.get(url)) == sorted([quick.pk, slow.pk, queued.pk])
    assert ids(admin_client.get(url, {"status__exact": "failed"})) == [slow.pk]
    assert ids(admin_client.get(url, {"type": "signups-per-day"})) == sorted([quick.pk, slow.pk, queued.pk])
    assert ids(admin_client.get(url, {"type": "email-log"})) == []
    assert ids(admin_client.get(url, {"owner__id__exact": bob.pk})) == [slow.pk]
    assert ids(admin_client.get(url, {"duration": "lt10s"})) == [quick.pk]
    assert ids(admin_client.get(url, {"duration": "gte10m"})) == [slow.pk]
    assert ids(admin_client.get(url, {"has_error": "yes"})) == [slow.pk]
    assert ids(admin_client.get(url, {"q": "longer"})) == [slow.pk]
    assert "Traceback: boom" in admin_client.get(f"{url}{slow.pk}/change/").content.decode()


def test_the_actions_cancel_and_generate_again(admin_client):
    ada = user("ada")
    queued, failed = report(ada, "queued"), report(ada, "failed", 1, error="x")
    url = "/admin/reports/report/"

    admin_client.post(url, {"action": "cancel", "_selected_action": [queued.pk]})
    admin_client.post(url, {"action": "retry", "_selected_action": [failed.pk]})

    queued.refresh_from_db()
    assert queued.status == "cancelled"
    assert Report.objects.filter(status="queued", owner=ada).count() == 1


def test_an_owner_cannot_read_the_traceback(client):
    ada = user("ada")
    failed = report(ada, "failed", 1, error="Short message", traceback="Traceback: secret")
    client.force_login(ada)

    page = client.get(f"/reports/{failed.pk}/").content.decode()

    assert "Short message" in page and "secret" not in page


def test_a_report_shows_beside_other_tasks_and_links_to_its_task(admin_client):
    from reports import registry, requests

    report, _ = requests.request_report(user("ada"), registry.get("signups-per-day"), RANGE, "csv")

    page = admin_client.get(f"/admin/reports/report/{report.pk}/change/").content.decode()
    assert f'href="/admin/durable/task/{report.task_id}/change/"' in page
    tasks = admin_client.get("/admin/durable/task/").content.decode()
    assert "reports.tasks.generate_report" in tasks
    operations = admin_client.get("/operations/")
    by_name = {row["name"]: row for row in operations.context["durable"]["names"]}
    assert by_name["reports.tasks.generate_report"]["queued"] == 1
