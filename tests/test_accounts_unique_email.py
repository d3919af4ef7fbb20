"""One account per e-mail address, case ignored, enforced by the database (issue 12, finding 6)."""

import http.cookiejar
import importlib
import re
import threading
import urllib.parse
import urllib.request

import pytest
from django.contrib.auth.models import User
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from notifications.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-Long-pass-42"


def test_the_database_refuses_a_second_account_with_the_same_address_in_another_case():
    User.objects.create_user("ada", "Ada@Example.com", PASSWORD)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("ada2", "ada@example.COM", PASSWORD)
    User.objects.create_user("nomail1", "", PASSWORD)
    User.objects.create_user("nomail2", "", PASSWORD)  # accounts without an address are not concerned


def test_the_migration_lists_existing_duplicates_instead_of_crashing():
    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0001_user_email_unique")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {migration.INDEX}")
    try:
        User.objects.create_user("ada", "ada@example.com", PASSWORD)
        User.objects.create_user("ada2", "ADA@example.com", PASSWORD)

        with pytest.raises(CommandError) as refused, connection.schema_editor() as editor:
            migration.refuse_duplicates(apps, editor)
    finally:
        User.objects.all().delete()
        current = importlib.import_module("accounts.migrations.0002_security_pending_signups")
        with connection.cursor() as cursor:
            cursor.execute(current.CONFIRMED)  # the index as the latest migration leaves it

    assert "ada@example.com: ada (id " in str(refused.value) and "ada2 (id" in str(refused.value)
    assert "run migrate again" in str(refused.value)


@pytest.fixture
def site(start_site):
    """The site under gunicorn with 4 worker processes, on the test database."""
    # The per-address sign-up limit (3/h) would answer the fourth with a 429: this test is about the database.
    return start_site(args=("--workers", "4"), RATE_LIMIT_SIGNUP_ADDRESS="100/h").url


class Browser:
    """A client with its own cookies that fetches the sign-up form (and its CSRF token) before posting."""

    def __init__(self, site):
        self.site = site
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.opener.open(f"{site}/accounts/signup/", timeout=10).read().decode()
        self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def sign_up(self, username, email):
        data = {"csrfmiddlewaretoken": self.token, "username": username, "email": email}
        data.update(password1=PASSWORD, password2=PASSWORD)
        request = urllib.request.Request(
            f"{self.site}/accounts/signup/", urllib.parse.urlencode(data).encode(), headers={"Referer": self.site}
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code


@pytest.mark.consumer
def test_four_simultaneous_sign_ups_with_one_address_open_one_account(site, client):
    browsers = [Browser(site) for _ in range(4)]
    start = threading.Barrier(4)
    answers = {}

    def sign_up(n):
        start.wait()
        answers[n] = browsers[n].sign_up(f"ada{n}", "ada@example.com" if n % 2 else "ADA@example.com")

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert set(answers.values()) == {200}  # all four answered "check your e-mail": nothing tells them apart
    # Four sign-ups wait, each with its own link (issue 20: none replaces another); the first confirmed opens.
    assert User.objects.filter(email__iexact="ada@example.com", is_active=False).count() == 4
    links = [
        re.search(r"(/accounts/signup/confirm/\S+/)", m.body_text()).group(1)
        for m in Message.objects.filter(subject__startswith="Confirm your address").order_by("id")
    ]
    assert client.post(links[2]).status_code == 302
    client.logout()
    assert [client.post(link).status_code for link in links[:2] + links[3:]] == [400] * 3
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1
