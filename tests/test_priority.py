"""Outbox priority (issue 12): mail a user is waiting for goes ahead of bulk mail when the relay limit binds."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.mail import mail_admins, send_mail
from django.db import connection

from notifications import delivery, priority
from notifications.models import Message
from reports import emails
from reports.models import Report
from testing.plugin import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-Long-pass-42"
CONFIRM = "Confirm your address to finish signing up to mysite"
SIGNUP = {"username": "ada", "email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD}


def levels():
    return {m.subject: m.get_priority_display().split(":")[0] for m in Message.objects.all()}


def test_senders_mark_their_mail_and_the_rest_is_normal(client, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    User.objects.create_user("bob", "bob@example.com", PASSWORD)
    send_mail("Plain", "x", "f@example.com", ["someone@example.com"])
    mail_admins("Server error", "x")
    with priority.sending(priority.BULK):
        send_mail("Newsletter", "x", "f@example.com", ["someone@example.com"])
    client.post("/accounts/signup/", SIGNUP)
    client.post("/accounts/password_reset/", {"email": "bob@example.com"})
    report = Report.objects.create(owner=User.objects.get(username="bob"), type="signups-per-day", status="done")
    emails.notify_ready(report.pk)

    assert levels() == {
        "Plain": "normal",
        "[Django] Server error": "bulk",
        "Newsletter": "bulk",
        "Confirm your address to finish signing up to mysite": "high",
        "Password reset on testserver": "high",
        "Your report is ready: Sign-ups per day": "bulk",
    }


def test_the_claim_takes_high_before_older_bulk_mail():
    with priority.sending(priority.BULK):
        for n in range(5):
            send_mail(f"Bulk {n}", "x", "f@example.com", ["a@example.com"])
    send_mail("Normal", "x", "f@example.com", ["a@example.com"])
    with priority.sending(priority.HIGH):
        send_mail("High", "x", "f@example.com", ["a@example.com"])

    assert [m.subject for m in delivery.claim(limit=3)] == ["High", "Normal", "Bulk 0"]


def test_the_claims_index_serves_its_order_without_a_sort():
    Message.objects.bulk_create(
        Message(from_email="f@x", recipients=["a@x"], raw=b"x", status="sent") for _ in range(500)
    )
    Message.objects.bulk_create(Message(from_email="f@x", recipients=["a@x"], raw=b"x") for _ in range(50))
    due = Message.objects.filter(status=Message.Status.QUEUED, due_at__lte="2030-01-01T00:00:00Z")
    plan = delivery.in_claim_order(due).values_list("id", flat=True)[:50].explain()

    assert "outbox_due" in plan
    if connection.vendor == "sqlite":
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "Sort" not in plan, plan


@pytest.mark.consumer
def test_a_flood_does_not_delay_a_new_users_confirmation_beyond_its_slot(client, start_consumer, smtp_server, settings):
    """50/m is a slot every 1.2 s: more than a worker waits in place, so the queue's order decides who goes next."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    start_consumer(smtp_server.url, EMAIL_RATE_LIMIT="50/m", HUEY_WORKERS=4)
    User.objects.create_user("bob", "bob@example.com", PASSWORD)
    for n in range(60):
        mail_admins(f"Error {n}", "x")  # bulk: staff mail that can wait
    for _ in range(60):  # one client asks 60 resets: the rate limits let three through
        client.post("/accounts/password_reset/", {"email": "bob@example.com"})
    wait_until(lambda: len(smtp_server.handler.messages) >= 1, timeout=30, message="the first e-mail")
    arrived_before = len(smtp_server.handler.messages)

    assert client.post("/accounts/signup/", SIGNUP).status_code == 302

    def welcome_index():  # sign-up mails "confirm your address" first; the welcome follows the confirmation
        subjects = [m.subject for m in smtp_server.handler.messages]
        return subjects.index(CONFIRM) if CONFIRM in subjects else None

    wait_until(lambda: welcome_index() is not None, timeout=40, message="the confirmation e-mail")
    ahead = [m.subject for m in smtp_server.handler.messages[arrived_before : welcome_index()]]
    # Ahead of it at most: the three resets (as high, and older), the row in hand and one claimed.
    assert len(ahead) <= 5, ahead
    assert Message.objects.filter(subject__startswith="[Django] Error", status="queued").count() >= 40


def test_the_docs_example_marks_its_message_high():
    text = (Path(__file__).resolve().parent.parent / "docs" / "outbox.md").read_text()
    example = text.split("## Priority", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]

    exec(example, {})

    assert Message.objects.get(subject="Your code").priority == Message.Priority.HIGH
