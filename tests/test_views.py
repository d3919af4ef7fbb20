"""The report pages: asking, watching, downloading, cancelling; who may see what; bad input never a 500."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from reports import generation, registry, requests
from reports.models import Report
from tests.reports_data import user

pytestmark = pytest.mark.django_db(transaction=True)
RANGE = {"start": "2026-03-01", "end": "2026-03-03"}


@pytest.fixture
def ada():
    return user("ada", joined="2026-03-02")


@pytest.fixture
def as_ada(client, ada):
    client.force_login(ada)
    return client


def post_report(client, slug="signups-per-day", fmt="csv", **fields):
    data = {"type": slug, "format": fmt, **{f"{slug}-{k}": v for k, v in {**RANGE, **fields}.items()}}
    return client.post("/reports/", data)


def done_report(owner, fmt="csv"):
    report, _ = requests.request_report(owner, registry.get("signups-per-day"), RANGE, fmt)
    generation.generate(report.pk)
    report.refresh_from_db()
    return report


def test_the_list_offers_the_types_the_user_may_run_and_links_from_the_nav(as_ada):
    page = as_ada.get("/reports/").content.decode()

    for name in ("Sign-ups per day", "E-mail log"):
        assert name in page
    assert "E-mail delivery" not in page  # everyone's mail: for users with notifications.view_message
    assert 'href="/reports/"' in as_ada.get("/").content.decode()


def test_generate_answers_at_once_with_the_report_page(as_ada, ada):
    response = post_report(as_ada)

    report = Report.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/{report.pk}/"
    assert (report.owner, report.type, report.format, report.status) == (ada, "signups-per-day", "csv", "queued")
    assert report.params == RANGE
    page = as_ada.get(response["Location"]).content.decode()
    assert '<progress id="bar" max="100" value="0">' in page
    assert 'http-equiv="refresh"' in page  # without JavaScript the page refreshes itself
    assert "Waiting for a worker" in page


def test_asking_twice_while_it_runs_gives_the_same_report(as_ada):
    first = post_report(as_ada)
    second = post_report(as_ada)

    assert first["Location"] == second["Location"]
    assert Report.objects.count() == 1
    assert "already being generated" in as_ada.get(second["Location"]).content.decode()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"start": "2026-03-05", "end": "2026-03-01"}, "“To” is before “From”"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "at most 366"),
        ({"start": "yesterday", "end": "2026-03-01"}, "Enter a valid date"),
        ({"start": "2026-02-30"}, "Enter a valid date"),
        ({"end": ""}, "This field is required"),
        ({"start": "9" * 500}, "Enter a valid date"),
    ],
)
def test_bad_parameters_answer_with_the_form_and_its_errors(as_ada, fields, message):
    response = post_report(as_ada, **fields)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    "data", [{"type": "nope"}, {"type": ""}, {}, {"type": "signups-per-day", "format": "pdf", **RANGE}]
)
def test_an_unknown_type_or_format_is_a_400(as_ada, data):
    response = as_ada.post("/reports/", data)

    assert response.status_code == 400
    assert not Report.objects.exists()


def test_the_status_endpoint_reports_progress(as_ada, ada):
    report = done_report(ada)

    status = as_ada.get(f"/reports/{report.pk}/status/").json()

    assert status["status"] == "done" and status["progress"] == 100 and status["row_count"] == 3
    assert status["download_url"] == f"/reports/{report.pk}/download/"


def test_download_serves_the_file_as_an_attachment(as_ada, ada):
    report = done_report(ada)

    response = as_ada.get(f"/reports/{report.pk}/download/")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="signups-per-day_2026-03-01_2026-03-03.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["date", "sign-ups"], ["2026-03-01", "0"], ["2026-03-02", "1"], ["2026-03-03", "0"]]


def test_an_xlsx_download_opens_as_a_workbook(as_ada, ada):
    report = done_report(ada, fmt="xlsx")

    response = as_ada.get(f"/reports/{report.pk}/download/")

    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    values = list(book.active.iter_rows(values_only=True))
    assert values[0] == ("date", "sign-ups") and len(values) == 4
    assert values[2][1] == 1 and values[2][0].date().isoformat() == "2026-03-02"


def test_downloading_an_unfinished_report_is_a_409(as_ada):
    report = Report.objects.get(pk=post_report(as_ada)["Location"].split("/")[2])

    response = as_ada.get(f"/reports/{report.pk}/download/")

    assert response.status_code == 409
    assert "not ready" in response.content.decode()


def test_an_expired_report_is_a_410_offering_to_generate_it_again(as_ada, ada, settings):
    report = done_report(ada)
    Report.objects.filter(pk=report.pk).update(finished_at=timezone.now() - timedelta(days=8))

    response = as_ada.get(f"/reports/{report.pk}/download/")

    assert response.status_code == 410
    page = response.content.decode()
    assert "expired" in page and f'action="/reports/{report.pk}/again/"' in page
    again = as_ada.post(f"/reports/{report.pk}/again/")
    new = Report.objects.latest("id")
    assert again["Location"] == f"/reports/{new.pk}/" and new.pk != report.pk
    assert (new.params, new.format, new.status) == (report.params, "csv", "queued")


def test_a_report_whose_file_vanished_counts_as_expired(as_ada, ada):
    report = done_report(ada)
    report.file.storage.delete(report.file.name)

    assert as_ada.get(f"/reports/{report.pk}/download/").status_code == 410


def test_cancel_stops_a_queued_report(as_ada):
    location = post_report(as_ada)["Location"]

    response = as_ada.post(f"{location}cancel/")

    assert response.status_code == 302
    assert Report.objects.get().status == "cancelled"
    assert "Generate again" in as_ada.get(location).content.decode()


def test_cancel_of_a_finished_report_is_a_409_and_get_is_refused(as_ada, ada):
    report = done_report(ada)

    assert as_ada.post(f"/reports/{report.pk}/cancel/").status_code == 409
    assert as_ada.get(f"/reports/{report.pk}/cancel/").status_code == 405
    report.refresh_from_db()
    assert report.status == "done"


URLS = ["/reports/{}/", "/reports/{}/status/", "/reports/{}/download/"]


@pytest.mark.parametrize("url", URLS)
def test_only_the_owner_and_staff_see_a_report(client, ada, url):
    report = done_report(ada)
    url = url.format(report.pk)

    client.force_login(user("eve"))
    assert client.get(url).status_code == 404
    client.force_login(user("staff", is_staff=True, perms=["reports.view_report"]))
    assert client.get(url).status_code == 200
    client.force_login(ada)
    assert client.get(url).status_code == 200
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_another_user_can_neither_cancel_nor_regenerate(client, ada):
    client.force_login(ada)
    report = Report.objects.get(pk=post_report(client)["Location"].split("/")[2])
    client.force_login(user("eve"))

    assert client.post(f"/reports/{report.pk}/cancel/").status_code == 404
    assert client.post(f"/reports/{report.pk}/again/").status_code == 404
    report.refresh_from_db()
    assert report.status == "queued" and Report.objects.count() == 1


def test_the_list_shows_only_ones_own_reports(client, ada):
    done_report(ada)
    client.force_login(user("eve"))

    assert "You have no reports yet" in client.get("/reports/").content.decode()


def test_anonymous_users_are_sent_to_log_in(client):
    assert client.get("/reports/")["Location"] == "/accounts/login/?next=/reports/"
    assert client.post("/reports/", {"type": "signups-per-day"}).status_code == 302
    assert client.get("/reports/999/download/").status_code == 302


def test_unknown_ids_are_404(as_ada):
    assert as_ada.get("/reports/999/").status_code == 404
    assert as_ada.get("/reports/abc/").status_code == 404
    assert as_ada.get("/reports/?page=zzz").status_code == 200
