"""E-mails that carry a secret (issue 12, finding 2): marked by their sender, redacted for all but superusers."""

import importlib
import logging
import re

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.mail import EmailMessage

from notifications.backend import SENSITIVE_HEADER
from notifications.models import Message
from tests.reports_data import grant

pytestmark = pytest.mark.django_db(transaction=True)
RESET_LINK = re.compile(r"/accounts/reset/[\w-]+/[\w-]+/")


def change_page(client, row, query=""):
    response = client.get(f"/admin/notifications/message/{row.pk}/change/{query}")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def root():
    return User.objects.create_superuser("root", "root@example.com", "a-Long-pass-42")


@pytest.fixture
def reset_for_root(client, root):
    """A password reset asked, anonymously, for the superuser's address: the attack of the issue."""
    assert client.post("/accounts/password_reset/", {"email": "root@example.com"}).status_code == 302
    row = Message.objects.get()
    assert RESET_LINK.search(row.body_text())  # the secret is in the stored body, for the consumer to send
    return row


def test_a_sender_marks_an_email_sensitive_and_the_header_never_reaches_the_relay(deliver_now):
    EmailMessage("Sign in", "secret link", "f@example.com", ["ada@example.com"], headers={SENSITIVE_HEADER: "1"}).send()
    EmailMessage("Hello", "plain", "f@example.com", ["ada@example.com"]).send()

    [received_secret, received_plain] = sorted(deliver_now(), key=lambda m: m.subject != "Sign in")

    assert dict(Message.objects.values_list("subject", "sensitive")) == {"Sign in": True, "Hello": False}
    assert (
        SENSITIVE_HEADER not in received_secret.email and received_secret.email.get_content().strip() == "secret link"
    )


def test_the_password_reset_email_is_sensitive(reset_for_root):
    assert reset_for_root.sensitive and SENSITIVE_HEADER.encode() not in reset_for_root.mime()


def test_an_outbox_viewer_cannot_read_the_reset_link(client, reset_for_root):
    viewer = grant(
        User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True), "notifications.view_message"
    )
    client.force_login(viewer)

    for query in ("", "?reveal=1"):
        page = change_page(client, reset_for_root, query)
        assert "Redacted" in page and "Password reset on" in page
        assert not RESET_LINK.search(page)


def test_a_superuser_reveals_it_on_request_and_it_is_logged(client, root, reset_for_root, caplog):
    client.force_login(root)
    assert not RESET_LINK.search(change_page(client, reset_for_root))

    with caplog.at_level(logging.WARNING, logger="notifications.admin"):
        page = change_page(client, reset_for_root, "?reveal=1")

    assert RESET_LINK.search(page)
    assert f"outbox {reset_for_root.pk}: sensitive body revealed to superuser {root.pk}" in caplog.text


def test_other_emails_stay_readable_by_outbox_viewers(client):
    EmailMessage("Hello", "the plain body", "f@example.com", ["ada@example.com"]).send()
    viewer = grant(
        User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True), "notifications.view_message"
    )
    client.force_login(viewer)

    assert "the plain body" in change_page(client, Message.objects.get())


def test_the_migration_marks_password_resets_stored_before_the_flag():
    migration = importlib.import_module("notifications.migrations.0003_sensitive")
    for subject in ("Password reset on example.com", "Hello"):
        Message.objects.create(from_email="f@example.com", recipients=["a@example.com"], subject=subject, raw=b"x")

    migration.mark_password_resets(apps, None)

    assert dict(Message.objects.values_list("subject", "sensitive")) == {
        "Password reset on example.com": True,
        "Hello": False,
    }
