"""The outbox backend: send_mail() stores a row in the caller's transaction and enqueues on commit."""

import pytest
from django.core import mail
from django.core.mail import BadHeaderError, EmailMultiAlternatives, send_mail
from django.db import transaction
from huey.contrib.djhuey import HUEY

from notifications.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_stores_the_message_and_enqueues_one_delivery():
    assert send_mail("Hi", "Body", "from@example.com", ["to@example.com"]) == 1

    row = Message.objects.get()
    assert row.status == Message.Status.QUEUED
    assert row.recipients == ["to@example.com"]
    assert row.from_email == "from@example.com"
    assert row.email["Subject"] == "Hi"
    assert HUEY.pending_count() == 1


def test_it_keeps_alternatives_and_attachments():
    msg = EmailMultiAlternatives("Report", "plain text", "from@example.com", ["a@example.com"], cc=["c@example.com"])
    msg.attach_alternative("<p>html</p>", "text/html")
    msg.attach("data.csv", "a,b\n1,2\n", "text/csv")
    msg.send()

    email = Message.objects.get().email
    assert sorted(Message.objects.get().recipients) == ["a@example.com", "c@example.com"]
    assert email.get_body(("plain",)).get_content().strip() == "plain text"
    assert email.get_body(("html",)).get_content().strip() == "<p>html</p>"
    [attachment] = list(email.iter_attachments())
    assert attachment.get_filename() == "data.csv"
    assert attachment.get_content().replace("\r\n", "\n") == "a,b\n1,2\n"


def test_it_enqueues_nothing_when_the_transaction_rolls_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
        raise RuntimeError("view failed")

    assert Message.objects.count() == 0
    assert HUEY.pending_count() == 0


def test_it_enqueues_only_after_commit():
    with transaction.atomic():
        send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
        assert HUEY.pending_count() == 0
    assert HUEY.pending_count() == 1


def test_a_recipient_with_a_newline_cannot_inject_headers():
    with pytest.raises((BadHeaderError, ValueError)):
        send_mail("Hi", "Body", "from@example.com", ["to@example.com\nBcc: victim@example.com"])
    with pytest.raises(BadHeaderError):
        send_mail("Hi\r\nBcc: victim@example.com", "Body", "from@example.com", ["to@example.com"])
    assert Message.objects.count() == 0


def test_it_refuses_a_bad_sender_every_time_and_keeps_each_envelope_apart():
    for _ in range(2):  # a refusal is never remembered as an answer
        with pytest.raises((BadHeaderError, ValueError)):
            send_mail("Hi", "Body", "from@example.com\nBcc: victim@example.com", ["to@example.com"])
    send_mail("One", "Body", "Ada <ada@example.com>", ["bob@example.com"])
    send_mail("Two", "Body", "Ada <ada@example.com>", ["Carol <carol@example.com>", "bob@example.com"])

    envelopes = list(Message.objects.order_by("id").values_list("from_email", "recipients"))
    assert envelopes == [
        ("ada@example.com", ["bob@example.com"]),
        ("ada@example.com", ["carol@example.com", "bob@example.com"]),
    ]


def test_it_still_succeeds_when_the_queue_is_unreachable(caplog):
    from testing.plugin import use_queue

    use_queue("redis://127.0.0.1:1/0")  # nothing listens on port 1
    assert send_mail("Hi", "Body", "from@example.com", ["to@example.com"]) == 1

    assert Message.objects.get().status == Message.Status.QUEUED
    assert "the sweeper will pick it up" in caplog.text


def test_the_delivered_content_matches_what_was_queued(settings):
    from notifications import delivery

    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    delivery.deliver()  # locmem transport: checks content, not delivery

    [sent] = mail.outbox
    assert sent.message()["Subject"] == "Hi"
    assert Message.objects.get().status == Message.Status.SENT
