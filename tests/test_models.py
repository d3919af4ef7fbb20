"""The outbox row's state in words, as the home page and the admin show it."""

from datetime import timedelta

import pytest
from django.core.mail import send_mail
from django.utils import timezone

from notifications.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_says_when_it_was_sent(deliver_now, settings):
    settings.TIME_ZONE = "Europe/Paris"
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    deliver_now()
    row = Message.objects.get()

    assert row.status_in_words() == f"sent {timezone.localtime(row.sent_at):%H:%M}"


def test_it_says_when_it_retries_and_why(deliver_now, smtp_server):
    smtp_server.refuse_for(60, reply="421 busy")
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    deliver_now()
    row = Message.objects.get()

    assert row.status_in_words() == f"retrying at {timezone.localtime(row.due_at):%H:%M}: 421 busy"


def test_it_says_queued_sending_and_cancelled():
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    row = Message.objects.get()
    assert row.status_in_words() == "queued"
    row.status = Message.Status.SENDING
    assert row.status_in_words() == "sending"
    row.status = Message.Status.CANCELLED
    assert row.status_in_words() == "not sent: cancelled"


def test_it_says_why_it_gave_up(deliver_now, smtp_server, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 1
    smtp_server.refuse_for(60, reply="451 4.3.0 Temporary failure")
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    Message.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    deliver_now()

    assert Message.objects.get().status_in_words() == "not sent: gave up: 451 4.3.0 Temporary failure"
