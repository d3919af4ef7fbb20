"""Fair report scheduling (issue 12, finding 5): a per-user cap, and round-robin between users."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from durable import claim
from reports import registry, requests
from reports.models import Report
from testing.plugin import wait_until
from tests.reports_data import many_outbox, user


def email_log(client, days_back):
    """Ask for an e-mail log ending 2026-03-01 that starts ``days_back`` days earlier (each one a new request)."""
    start = date(2026, 3, 1) - timedelta(days=days_back)
    return client.post(
        "/reports/",
        {"type": "email-log", "format": "xlsx", "email-log-start": start.isoformat(), "email-log-end": "2026-03-01"},
    )


@pytest.mark.django_db
def test_past_the_cap_the_form_says_so_and_nothing_is_queued(client, settings):
    settings.REPORTS_MAX_ACTIVE_PER_USER = 3
    client.force_login(user("ada", is_superuser=True, is_staff=True))

    answers = [email_log(client, n) for n in range(4)]

    assert [a.status_code for a in answers] == [302, 302, 302, 400]
    assert "You already have 3 reports queued or being generated" in answers[3].content.decode()
    assert Report.objects.count() == 3
    assert email_log(client, 0).status_code == 302  # the same request again: the one already queued
    Report.objects.filter(pk=Report.objects.order_by("pk").first().pk).update(status="done")
    assert email_log(client, 9).status_code == 302 and Report.objects.count() == 4  # a place is free again


@pytest.mark.django_db
def test_the_next_report_is_the_oldest_of_the_user_with_the_fewest_running(settings):
    settings.REPORTS_MAX_ACTIVE_PER_USER = 100
    ada, bob, cy = user("ada"), user("bob"), user("cy")

    def report(owner):
        params = {"start": "2026-03-01", "end": f"2026-03-{Report.objects.count() + 1:02d}"}
        return requests.request_report(owner, registry.get("signups-per-day"), params, "csv")[0]

    first = report(ada)
    assert [row.pk for row in claim.claim(1)] == [first.task_id]  # ada's first report runs
    ada_queued = [report(ada) for _ in range(5)]
    bob_1, bob_2 = report(bob), report(bob)
    cy_1 = report(cy)

    def claimed(times):  # what workers start, one report each (a report is slow: a worker claims one at a time)
        return [Report.objects.get(task_id=row.pk).pk for _ in range(times) for row in claim.claim(1)]

    settings.DURABLE_GROUP_LIMITS = {"reports": 2}
    assert claimed(5) == [bob_1.pk]  # one free place: whichever task woke the worker, bob's report starts
    settings.DURABLE_GROUP_LIMITS = {"reports": 100}
    assert [bob_1.pk, *claimed(4)] == [bob_1.pk, cy_1.pk, ada_queued[0].pk, bob_2.pk, ada_queued[1].pk]


@pytest.mark.slow
@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_150_reports_from_one_user_do_not_delay_another_users_report(client, start_report_consumer, settings):
    many_outbox(20_000)
    heavy = user("heavy", is_superuser=True, is_staff=True)
    client.force_login(heavy)
    start_report_consumer(REPORTS_MAX_RUNNING=2, HUEY_WORKERS=4)

    answers = [email_log(client, n).status_code for n in range(150)]
    other = User.objects.create_user("ada", "ada@example.com", "a-Long-pass-42")
    ada = Client(REMOTE_ADDR="192.0.2.5")  # another user, from another address
    ada.force_login(other)
    response = ada.post(
        "/reports/",
        {"type": "signups-per-day", "format": "csv", "signups-per-day-start": "2026-03-01",
         "signups-per-day-end": "2026-03-01"},
    )  # fmt: skip
    assert response.status_code == 302
    mine = Report.objects.get(owner=other)

    wait_until(lambda: Report.objects.get(pk=mine.pk).status == "done", timeout=120, message="ada's report")
    mine.refresh_from_db()
    heavy_reports = Report.objects.filter(owner=heavy)
    assert answers.count(302) == heavy_reports.count() == settings.REPORTS_MAX_ACTIVE_PER_USER
    # Once ada asked, hers was the next to start: heavy's pile waited (a claim already under way may slip in).
    # Counted from her request, not from heavy's first: on a slow machine some of heavy's finish before she asks.
    cut_in = heavy_reports.filter(started_at__gt=mine.created_at, started_at__lt=mine.started_at).count()
    assert cut_in <= 1, f"{cut_in} of heavy's reports started after ada asked and before hers"


@pytest.mark.django_db
def test_generate_again_past_the_cap_says_so_on_the_report_page(client, settings):
    settings.REPORTS_MAX_ACTIVE_PER_USER = 1
    client.force_login(user("ada", is_superuser=True, is_staff=True))
    email_log(client, 0)
    old = Report.objects.create(owner=User.objects.get(), type="email-log", params={"x": 1}, status="failed")

    response = client.post(f"/reports/{old.pk}/again/", follow=True)

    assert response.redirect_chain[-1][0] == f"/reports/{old.pk}/"
    assert "You already have 1 report queued" in response.content.decode()
    assert Report.objects.count() == 2
