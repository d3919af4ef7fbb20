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
