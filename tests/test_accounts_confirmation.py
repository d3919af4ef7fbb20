"""The confirmation link (issue 20, findings 1 and 10): it opens only the waiting sign-up it was made for."""

import re

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.tokens import confirmation_token
from notifications.models import Message
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-Long-pass-42"
FORM = {"username": "ada", "email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD}


def link(user, token):
    return f"/accounts/signup/confirm/{urlsafe_base64_encode(force_bytes(user.pk))}/{token}/"


def confirm_links():
    return [
        re.search(r"http://testserver(/accounts/signup/confirm/\S+/)", m.body_text()).group(1)
        for m in Message.objects.filter(subject__startswith="Confirm your address").order_by("id")
    ]


def test_a_deactivated_user_cannot_reopen_the_account_with_a_password_reset_link(client):
    ada = User.objects.create_user("ada", "ada@example.com", PASSWORD)
    assert client.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    client.post("/accounts/password_reset/", {"email": "ada@example.com"})
    reset = re.search(r"/accounts/reset/(\S+)/(\S+)/", Message.objects.get().body_text())
    User.objects.filter(pk=ada.pk).update(is_active=False)  # staff deactivate the account
    client.logout()

    response = client.post(f"/accounts/signup/confirm/{reset.group(1)}/{reset.group(2)}/")

    assert response.status_code == 400
    assert not User.objects.get(pk=ada.pk).is_active
    assert not Message.objects.filter(subject__startswith="Welcome").exists()
    assert not Event.objects.filter(type="user.signed_up").exists()
    assert "_auth_user_id" not in client.session


def test_a_deactivated_account_stays_so_even_with_a_confirmation_token(client):
    ada = User.objects.create_user("ada", "ada@example.com", PASSWORD)
    client.force_login(ada)  # the account was used: last_login is set
    client.logout()
    User.objects.filter(pk=ada.pk).update(is_active=False)
    ada.refresh_from_db()

    assert client.post(link(ada, confirmation_token.make_token(ada))).status_code == 400
    assert not User.objects.get(pk=ada.pk).is_active


def test_the_two_links_are_not_interchangeable(client):
    client.post("/accounts/signup/", FORM)
    ada = User.objects.get()
    assert client.post(link(ada, default_token_generator.make_token(ada))).status_code == 400
    [confirm] = confirm_links()
    token = confirm.rstrip("/").rsplit("/", 1)[1]
    assert not default_token_generator.check_token(ada, token)  # and a confirmation token resets no password
    assert client.post(confirm).status_code == 302
    assert User.objects.get().is_active


def test_a_newer_sign_up_with_the_same_address_does_not_take_over_the_waiting_one(client):
    client.post("/accounts/signup/", FORM)  # the address's owner
    client.post(
        "/accounts/signup/", {**FORM, "username": "mallory", "password1": "evil-Pass-99", "password2": "evil-Pass-99"}
    )

    ada = User.objects.get(username="ada")
    assert ada.check_password(PASSWORD) and not ada.is_active  # nothing swapped in under the owner's sign-up
    owners, attackers = confirm_links()
    assert "mallory" in client.get(attackers).content.decode()  # the page says whose account it would open

    assert client.post(owners).status_code == 302  # the owner's first link still works

    assert list(User.objects.values_list("username", flat=True)) == ["ada"]  # the other waiting sign-up went
    assert User.objects.get().is_active
    client.logout()
    assert client.post(attackers).status_code == 400
    assert client.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code == 302


def test_a_second_account_for_a_confirmed_address_is_still_refused_by_the_database():
    from django.db import IntegrityError, transaction

    User.objects.create_user("ada", "ada@example.com", PASSWORD)
    User.objects.create_user("waiting", "ADA@example.com", PASSWORD, is_active=False)  # a waiting sign-up: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("bob", "Ada@Example.com", PASSWORD)


def test_a_500_in_sign_up_mails_the_admins_no_password(client, settings, monkeypatch):
    from django.test import Client

    import accounts.views

    settings.ADMINS = [("Ops", "ops@example.com")]

    def broken(user, request):
        raise RuntimeError("the confirmation could not be built")

    monkeypatch.setattr(accounts.views, "send_confirmation", broken)  # any failure after the form is read
    response = Client(raise_request_exception=False).post("/accounts/signup/", FORM)

    assert response.status_code == 500
    [report] = Message.objects.filter(recipients=["ops@example.com"])
    body = report.body_text()
    assert "password1" in body and PASSWORD not in body
