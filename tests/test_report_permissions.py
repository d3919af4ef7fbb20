"""Who may run which report, and see whose: checked by the view and again by the consumer (issue 12)."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission

from reports import generation, registry, requests
from reports.models import Report
from reports.registry import ReportType
from testing.plugin import wait_until
from tests.reports_data import READS_OUTBOX, grant, outbox, user

pytestmark = pytest.mark.django_db(transaction=True)
DAY = {"start": "2026-03-01", "end": "2026-03-01"}


def ask(client, slug, fmt="csv"):
    return client.post("/reports/", {"type": slug, "format": fmt, **{f"{slug}-{k}": v for k, v in DAY.items()}})


def rows_of(client, report):
    response = client.get(f"/reports/{report.pk}/download/")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def log_of(client):
    response = ask(client, "email-log")
    assert response.status_code == 302, response.content.decode()[:2000]
    report = generation.generate(int(response["Location"].split("/")[2]))
    report.refresh_from_db()
    assert report.status == "done", report.error
    return [row[4] for row in rows_of(client, report)[1:]]


@pytest.fixture
def mails():
    outbox("2026-03-01", ["ada@example.com"], subject="For Ada")
    outbox("2026-03-01", ["bob@example.com"], subject="For Bob")
    outbox("2026-03-01", ["x@example.com", "ADA@example.com"], subject="Ada among others")
    outbox("2026-03-01", ["nada@example.com"], subject="Not Ada's")


def test_a_user_without_the_outbox_permission_gets_only_their_own_emails(client, mails):
    client.force_login(user("ada"))

    assert "Only e-mails to your own address." in client.get("/reports/").content.decode()
    assert log_of(client) == ["ada@example.com", "x@example.com, ADA@example.com"]


def test_staff_with_the_outbox_permission_get_everyones(client, mails):
    client.force_login(user("ops", is_staff=True, perms=READS_OUTBOX))

    assert "Only e-mails to your own address." not in client.get("/reports/").content.decode()
    assert len(log_of(client)) == 4


class _Restricted(ReportType):
    slug = "test-restricted"
    name = "Restricted"
    permission = "reports.change_report"
    columns = ("n",)

    def rows(self, params):
        yield (1,)


@pytest.fixture
def restricted():
    registry.register(_Restricted)
    yield registry.get("test-restricted")
    registry._types.pop("test-restricted")


def test_a_type_is_neither_offered_nor_run_for_those_it_does_not_allow(client, restricted):
    client.force_login(user("ada"))

    assert "Restricted" not in client.get("/reports/").content.decode()
    assert client.post("/reports/", {"type": "test-restricted", "format": "csv"}).status_code == 403
    assert ask(client, "email-delivery").status_code == 403  # everyone's mail, counted by domain
    assert not Report.objects.exists()


@pytest.mark.consumer
def test_the_consumer_fails_a_report_whose_owner_lost_the_permission(client, start_report_consumer, mails):
    ops = user("ops", is_staff=True, perms=READS_OUTBOX)
    client.force_login(ops)
    report = Report.objects.get(pk=ask(client, "email-log")["Location"].split("/")[2])
    assert report.params["scope"] == "all"
    ops.user_permissions.remove(Permission.objects.get(codename="view_message"))  # while it waits in the queue

    consumer = start_report_consumer()

    wait_until(lambda: Report.objects.get(pk=report.pk).status == "failed", message="the report to fail")
    report.refresh_from_db()
    assert "not allowed to run the “E-mail log” report over everyone's data" in report.error
    assert not report.file
    # The line is logged after the outcome commits: waited for, not read at the instant the row says failed.
    wait_until(lambda: f"report {report.pk} failed" in consumer.log(), message="the consumer to log the failure")
    assert "not allowed" in client.get(f"/reports/{report.pk}/").content.decode()


def test_asking_again_rechecks_the_permission(client, mails):
    ops = user("ops", is_staff=True, perms=READS_OUTBOX)
    client.force_login(ops)
    first = Report.objects.get(pk=ask(client, "email-log")["Location"].split("/")[2])
    generation.cancel(first)
    ops.user_permissions.clear()

    again = Report.objects.get(pk=client.post(f"/reports/{first.pk}/again/")["Location"].split("/")[2])

    assert again.params["scope"] == "own"  # the same range, now over their own e-mails only


@pytest.mark.parametrize("url", ["/reports/{}/", "/reports/{}/status/", "/reports/{}/download/"])
def test_staff_need_the_view_permission_to_see_others_reports(client, url):
    report, _ = requests.request_report(user("ada"), registry.get("signups-per-day"), DAY, "csv")
    generation.generate(report.pk)
    url = url.format(report.pk)

    staff = user("staff", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 404
    client.force_login(grant(staff, "reports.view_report"))
    assert client.get(url).status_code == 200


def test_cancelling_someone_elses_report_needs_the_change_permission(client):
    report, _ = requests.request_report(user("ada"), registry.get("signups-per-day"), DAY, "csv")
    viewer = user("viewer", is_staff=True, perms=["reports.view_report"])
    client.force_login(viewer)

    assert client.post(f"/reports/{report.pk}/cancel/").status_code == 404
    client.force_login(grant(viewer, "reports.change_report"))
    assert client.post(f"/reports/{report.pk}/cancel/").status_code == 302
    report.refresh_from_db()
    assert report.status == "cancelled"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("url", ["/reports/{}/", "/reports/{}/status/", "/reports/{}/download/"])
def test_reading_someone_elses_report_needs_the_permission_its_type_needs(client, mails, url, fmt):
    boss = user("boss", is_staff=True, is_superuser=True)
    site_wide, _ = requests.request_report(boss, registry.get("email-log"), DAY, fmt)  # everyone's e-mails
    own, _ = requests.request_report(user("ada"), registry.get("email-log"), DAY, fmt)  # ada's own e-mails
    for report in (site_wide, own):
        generation.generate(report.pk)

    viewer = user("viewer", is_staff=True, perms=["reports.view_report"])
    client.force_login(viewer)
    for report in (site_wide, own):
        assert client.get(url.format(report.pk)).status_code == 404

    client.force_login(grant(viewer, *READS_OUTBOX))
    for report in (site_wide, own):
        assert client.get(url.format(report.pk)).status_code == 200
