"""Sign-up, log in, password reset and the home page."""

import re

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from notifications.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
GOOD = {"username": "ada", "email": "ada@example.com", "password1": "a-Long-pass-42", "password2": "a-Long-pass-42"}


def sign_up(client, **fields):
    """Sign up and follow the confirmation link, as the new user would; returns the user."""
    response = client.post("/accounts/signup/", {**GOOD, **fields})
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/sent/"
    confirm = Message.objects.filter(subject__startswith="Confirm your address").latest("id")
    link = re.search(r"http://testserver(/accounts/signup/confirm/\S+/)", confirm.body_text()).group(1)
    assert client.post(link).status_code == 302
    return User.objects.get(username=fields.get("username", GOOD["username"]))


def test_it_opens_the_account_once_the_address_is_confirmed_and_then_welcomes(client):
    response = client.post("/accounts/signup/", GOOD, follow=True)

    assert response.redirect_chain == [("/accounts/signup/sent/", 302)]
    assert b"Check your e-mail" in response.content
    user = User.objects.get()
    assert user.email == "ada@example.com" and not user.is_active
    confirm = Message.objects.get()
    assert confirm.recipients == ["ada@example.com"] and confirm.status == "queued" and confirm.sensitive
    assert HUEY.pending_count() == 1
    link = re.search(r"http://testserver(/accounts/signup/confirm/\S+/)", confirm.body_text()).group(1)
    assert b"Confirm and log in" in client.get(link).content  # a GET (a mail scanner) opens nothing
    assert not User.objects.get().is_active

    assert client.post(link)["Location"] == "/"

    assert User.objects.get().is_active
    welcome = Message.objects.get(subject="Welcome to mysite, ada")
    assert {p.get_content_type() for p in welcome.email.walk()} >= {"text/plain", "text/html"}
    home = client.get("/")
    assert b"Hello, ada" in home.content and b"Welcome to mysite, ada" in home.content
    assert client.post(link).status_code == 400  # used once


def test_a_wrong_confirmation_link_is_a_400(client):
    for path in ("/accounts/signup/confirm/MQ/abc-def/", "/accounts/signup/confirm/zzzz/x/"):
        assert client.get(path).status_code == 400
        assert client.post(path).status_code == 400


@pytest.mark.parametrize(
    "change, field",
    [
        ({"password2": "something-else-42"}, "password2"),
        ({"password1": "123", "password2": "123"}, "password2"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "ada@example.com\r\nBcc: victim@example.com"}, "email"),
        ({"username": "ada\nBcc: x"}, "username"),
        ({"username": ""}, "username"),
    ],
)
def test_bad_input_gives_form_errors_and_sends_nothing(client, change, field):
    response = client.post("/accounts/signup/", {**GOOD, **change})

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not User.objects.exists() and not Message.objects.exists()


def test_a_taken_username_is_a_form_error(client):
    User.objects.create_user("ada", "other@example.com", "x")

    response = client.post("/accounts/signup/", GOOD)

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"username"}


def test_a_taken_address_gets_the_same_answer_and_its_owner_an_email(client):
    User.objects.create_user("bob", "Ada@Example.com", "x")

    response = client.post("/accounts/signup/", GOOD, follow=True)

    assert response.redirect_chain == [("/accounts/signup/sent/", 302)]  # as for a new address
    assert b"already" not in response.content
    assert User.objects.count() == 1
    [row] = Message.objects.all()  # one e-mail, as for a new address
    assert row.recipients == ["ada@example.com"]
    assert "already has an account" in row.body_text() and "/accounts/password_reset/" in row.body_text()


def test_password_reset_mail_goes_through_the_outbox(client):
    User.objects.create_user("ada", "ada@example.com", "a-Long-pass-42")

    response = client.post("/accounts/password_reset/", {"email": "ada@example.com"})

    assert response.status_code == 302
    row = Message.objects.get()
    assert row.recipients == ["ada@example.com"]
    assert "/accounts/reset/" in row.body_text()


def test_log_in_and_out(client):
    User.objects.create_user("ada", "ada@example.com", "a-Long-pass-42")

    assert client.post("/accounts/login/", {"username": "ada", "password": "a-Long-pass-42"}).status_code == 302
    assert b"Hello, ada" in client.get("/").content
    assert client.post("/accounts/logout/").status_code == 302
    assert b"Hello, ada" not in client.get("/").content


def test_the_home_page_shows_only_the_users_own_emails(client):
    from django.core.mail import send_mail

    send_mail("For someone else", "x", "from@example.com", ["ada@example.com.evil.test"])
    sign_up(client)

    content = client.get("/").content
    assert b"Welcome to mysite, ada" in content
    assert b"For someone else" not in content


def test_the_home_page_says_where_each_email_stands(client, deliver_now, smtp_server, settings):
    from django.core.mail import send_mail
    from django.utils import timezone

    settings.EMAIL_RATE_LIMIT = "1/h"
    sign_up(client)
    Message.objects.filter(subject__startswith="Confirm your address").delete()
    smtp_server.reject("ada@example.com", reply="550 5.1.1 No such user")
    deliver_now()  # the welcome is rejected: ada@ is now suppressed
    send_mail("After", "x", "from@example.com", ["ada@example.com"])
    deliver_now()
    smtp_server.handler.rejected.clear()
    send_mail("Waiting", "x", "from@example.com", ["ada@example.com", "other@example.com"])
    deliver_now()  # the hourly slot is taken: it waits

    content = client.get("/").content.decode()
    assert "not sent: address rejected" in content
    today = timezone.localdate().isoformat()
    assert f"not sent: address suppressed since {today}" in content
    assert "waiting: relay limit" in content


def test_mail_to_the_sites_own_addresses_is_never_a_users_own(client, settings):
    from django.core.mail import mail_admins, mail_managers

    from reports import generation, registry, requests

    settings.ADMINS = [("Admin", "Ops@example.com")]
    settings.MANAGERS = [("Boss", "boss@example.com")]
    mail_admins("Internal Server Error: /x", "Traceback ... SECRET_KEY=...")
    mail_managers("Broken link", "x")
    sign_up(client, username="mallory", email="ops@example.com")
    sign_up(client, username="boss", email="boss@example.com")

    for name in ("mallory", "boss"):
        client.force_login(User.objects.get(username=name))
        assert b"Internal Server Error" not in client.get("/").content
        assert b"Broken link" not in client.get("/").content
        params = {"start": timezone.localdate().isoformat(), "end": timezone.localdate().isoformat()}
        report, _ = requests.request_report(User.objects.get(username=name), registry.get("email-log"), params, "csv")
        generation.generate(report.pk)
        report.refresh_from_db()
        assert report.status == "done" and b"Internal Server Error" not in report.file.open("rb").read()


@pytest.mark.parametrize("known", [True, False])
def test_password_reset_answers_alike_and_mails_the_address_either_way(client, known):
    if known:
        User.objects.create_user("ada", "ada@example.com", "a-Long-pass-42")

    response = client.post("/accounts/password_reset/", {"email": "ada@example.com"}, follow=True)

    assert response.redirect_chain == [("/accounts/password_reset/done/", 302)]
    [row] = Message.objects.all()  # one INSERT and one enqueue either way: the same work, the same time
    assert row.recipients == ["ada@example.com"]
    assert ("/accounts/reset/" in row.body_text()) is known
    assert ("There is no account with this address" in row.body_text()) is not known
    assert "/accounts/signup/" in row.body_text() or known
    assert row.sensitive is known


def test_an_unconfirmed_account_does_not_keep_the_addresss_owner_out(client):
    squatter = client.post("/accounts/signup/", {**GOOD, "username": "squatter"})
    assert squatter["Location"] == "/accounts/signup/sent/"
    first_link = re.search(r"(/accounts/signup/confirm/\S+/)", Message.objects.get().body_text()).group(1)

    ada = sign_up(client)  # the owner of the address, later

    assert ada.is_active and list(User.objects.values_list("username", flat=True)) == ["ada"]
    client.logout()
    assert client.post(first_link).status_code == 400  # the squatter's link opens nothing now
