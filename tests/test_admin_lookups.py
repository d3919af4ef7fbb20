"""Admin URLs a hostile staff member can craft answer 4xx, never 500 (issue 12, finding 6)."""

import pytest
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.test import Client

from reports import generation, registry, requests
from tests.reports_data import user

pytestmark = pytest.mark.django_db(transaction=True)
OUTBOX = "/admin/notifications/message/"


@pytest.fixture
def root():
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "a-Long-pass-42"))
    send_mail("Hi", "x", "f@example.com", ["ada@example.com"])
    return client


@pytest.mark.parametrize(
    "params",
    [
        {"recipients__contains": "ada"},
        {"recipients__has_key": "x"},
        {"recipients__0": "ada@example.com"},
        {"recipients__foo__bar": "x"},
        {"recipients": "ada@example.com"},
        {"raw__startswith": "x"},
        {"lease_token__isnull": "maybe"},
    ],
)
def test_outbox_lookups_on_fields_it_does_not_filter_by_are_refused(root, params):
    response = root.get(OUTBOX, params)

    assert response.status_code in (302, 400), response.status_code  # the admin's own "invalid filter" answers


def test_the_outbox_filters_it_offers_still_work(root):
    assert root.get(OUTBOX, {"status__exact": "queued"}).status_code == 200
    assert root.get(OUTBOX, {"q": "ada@"}).status_code == 200


def test_a_staff_user_without_permissions_cannot_download_any_report(client):
    report, _ = requests.request_report(
        user("ada"), registry.get("signups-per-day"), {"start": "2026-03-01", "end": "2026-03-01"}, "csv"
    )
    generation.generate(report.pk)
    client.force_login(user("staff", is_staff=True))

    assert client.get(f"/reports/{report.pk}/download/").status_code == 404
    assert client.get(f"/admin/reports/report/{report.pk}/change/").status_code == 403


def _date_filters():
    """Every (change list, date field) of the admin: each takes ``?<field>__year=...`` from the URL."""
    from django.contrib import admin
    from django.db import models

    for model in admin.site._registry:
        for field in model._meta.get_fields():
            if isinstance(field, models.DateField):  # DateTimeField too
                yield f"/admin/{model._meta.app_label}/{model._meta.model_name}/", field.name


@pytest.mark.parametrize("lookup", ["year", "year__exact", "year__gt", "year__lte", "iso_year"])
@pytest.mark.parametrize("year", ["0", "-1", "10000", "9999"])
def test_a_year_no_date_can_hold_is_a_bad_filter_in_every_admin_list(root, lookup, year):
    """Fuzzing found ``?created_at__year__exact=0`` a 500 in the outbox's list (a datetime of year 0); 9999 is
    refused too, as a date hierarchy's list makes year 10000 from it (``operations.admin_dates``)."""
    checked = list(_date_filters())
    assert ("/admin/notifications/message/", "created_at") in checked

    for url, field in checked:
        response = root.get(url, {f"{field}__{lookup}": year})

        assert response.status_code == 400, (url, field, response.status_code)


def test_a_year_filter_in_range_still_filters(root):
    assert root.get(OUTBOX, {"created_at__year": "2026"}).status_code == 200
    assert root.get(OUTBOX, {"created_at__year__exact": "1"}).status_code == 200
    assert root.get(OUTBOX, {"created_at__iso_year": "9998"}).status_code == 200
    assert root.get(OUTBOX, {"created_at__year": "abc"}).status_code == 302  # the admin's own bad-filter answer


@pytest.mark.parametrize(
    "url, field",
    [(OUTBOX, "created_at"), ("/admin/reports/report/", "created_at"), ("/admin/axes/accessattempt/", "attempt_time")],
)
@pytest.mark.parametrize("params", [{"year": "9999"}, {"year": "9999", "month": "12"}, {"year": "0"}])
def test_a_date_hierarchy_past_the_last_year_is_a_bad_filter(root, url, field, params):
    """The list's date hierarchy makes the next year's (or month's) date itself: year 10000 is no date."""
    from django.contrib import admin

    assert field in {a.date_hierarchy for a in admin.site._registry.values()}  # each list's own hierarchy
    assert root.get(url, {f"{field}__{k}": v for k, v in params.items()}).status_code == 400
