"""The suppression list: a permanent 5xx suppresses the address; later e-mails skip it until lifted."""

import pytest
from django.contrib.auth.models import User
from django.core.mail import EmailMessage, send_mail
from django.core.management import CommandError, call_command

from notifications import suppression
from notifications.models import Attempt, Message, Suppression
from testing.plugin import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_permanent_rejection_suppresses_the_address(deliver_now, smtp_server):
    smtp_server.reject("gone@example.com")
    send_mail("First", "Body", "from@example.com", ["gone@example.com"])
    deliver_now()
    first = Message.objects.get()

    send_mail("Second", "Body", "from@example.com", ["Gone@Example.com"])
    assert deliver_now() == []

    entry = Suppression.objects.get()
    assert entry.address == "gone@example.com" and entry.message_id == first.pk
    assert entry.reason.startswith("550") and entry.failed_at == Attempt.objects.get(message=first).started_at
    second = Message.objects.get(subject="Second")
    assert second.status == Message.Status.SUPPRESSED
    assert second.attempts == 0 and not Attempt.objects.filter(message=second).exists()
    assert f"since {entry.failed_at:%Y-%m-%d}" in second.reason and "550 5.1.1 No such user" in second.last_error
    assert second.status_in_words() == f"not sent: address suppressed since {entry.failed_at:%Y-%m-%d}"
    assert first.status_in_words() == "not sent: address rejected"


def test_a_later_message_in_the_same_batch_skips_it_too(deliver_now, smtp_server):
    smtp_server.reject("gone@example.com")
    send_mail("First", "Body", "from@example.com", ["gone@example.com"])
    send_mail("Second", "Body", "from@example.com", ["gone@example.com"])

    deliver_now()  # one claim, one batch

    assert smtp_server.handler.rcpt_attempts == ["gone@example.com"]
    assert Message.objects.get(subject="Second").status == Message.Status.SUPPRESSED


def test_a_rejected_address_is_suppressed_even_when_the_message_is_retried(deliver_now, smtp_server):
    smtp_server.reject("gone@example.com")
    smtp_server.reject("full@example.com", reply="452 4.2.2 Mailbox full")
    send_mail("Hi", "Body", "from@example.com", ["gone@example.com", "full@example.com"])

    deliver_now()

    row = Message.objects.get()
    assert row.status == Message.Status.QUEUED  # full@ may take it later
    assert list(Suppression.objects.values_list("address", flat=True)) == ["gone@example.com"]


def test_a_transient_refusal_does_not_suppress(deliver_now, smtp_server):
    smtp_server.reject("full@example.com", reply="452 4.2.2 Mailbox full")
    send_mail("Hi", "Body", "from@example.com", ["full@example.com"])

    deliver_now()

    assert not Suppression.objects.exists()
    assert Message.objects.get().status == Message.Status.QUEUED


def test_the_other_recipients_still_get_it(deliver_now, smtp_server):
    smtp_server.reject("gone@example.com")
    send_mail("One", "Body", "from@example.com", ["gone@example.com", "ok@example.com"])
    [one] = deliver_now()  # accepted for ok@, refused for gone@: now suppressed

    EmailMessage("Two", "Body", "from@example.com", ["ok@example.com"], cc=["gone@example.com"]).send()
    [two] = deliver_now()

    assert one.rcpt_tos == ["ok@example.com"] and two.rcpt_tos == ["ok@example.com"]
    assert smtp_server.handler.rcpt_attempts.count("gone@example.com") == 1  # the second did not offer it
    row = Message.objects.get(subject="Two")
    assert row.status == Message.Status.SENT
    assert "gone@example.com suppressed since" in row.last_error
    assert Attempt.objects.get(message=row).recipients == ["ok@example.com"]
    assert Suppression.objects.get().address == "gone@example.com"


def test_lifting_lets_the_address_be_tried_again(deliver_now, smtp_server):
    smtp_server.reject("back@example.com")
    send_mail("First", "Body", "from@example.com", ["back@example.com"])
    deliver_now()
    smtp_server.handler.rejected.clear()  # the mailbox exists again

    suppression.lift("back@example.com")
    send_mail("Second", "Body", "from@example.com", ["back@example.com"])

    assert [m.subject for m in deliver_now()] == ["Second"]


def test_lifting_twice_or_an_unknown_address_says_so(deliver_now, smtp_server):
    smtp_server.reject("gone@example.com")
    send_mail("First", "Body", "from@example.com", ["gone@example.com"])
    deliver_now()
    suppression.lift("gone@example.com")

    with pytest.raises(suppression.NotSuppressed, match="gone@example.com was already lifted on"):
        suppression.lift("gone@example.com")
    with pytest.raises(suppression.NotSuppressed, match="nobody@example.com is not on the suppression list"):
        suppression.lift("nobody@example.com")


def test_the_command_lists_and_lifts(deliver_now, smtp_server, capsys):
    smtp_server.reject("gone@example.com")
    send_mail("First", "Body", "from@example.com", ["gone@example.com"])
    deliver_now()

    call_command("suppression")
    assert "gone@example.com" in capsys.readouterr().out
    call_command("suppression", "--lift", "gone@example.com")
    assert "Done! Lifted 1 suppressions." in capsys.readouterr().out
    with pytest.raises(CommandError, match="already lifted"):
        call_command("suppression", "--lift", "gone@example.com")
    with pytest.raises(CommandError, match="nobody@example.com is not on the suppression list"):
        call_command("suppression", "--lift", "nobody@example.com")


def test_the_admin_lists_and_lifts(client, deliver_now, smtp_server):
    smtp_server.reject("gone@example.com")
    send_mail("First", "Body", "from@example.com", ["gone@example.com"])
    deliver_now()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "x"))
    entry = Suppression.objects.get()

    listing = client.get("/admin/notifications/suppression/")
    assert b"gone@example.com" in listing.content and b"550 5.1.1" in listing.content

    action = {"action": "lift", "_selected_action": [entry.pk]}
    first = client.post("/admin/notifications/suppression/", action, follow=True)
    again = client.post("/admin/notifications/suppression/", action, follow=True)

    assert "Suppression lifted for gone@example.com." in [str(m) for m in first.context["messages"]]
    assert any("already lifted" in str(m) for m in again.context["messages"])
    assert Suppression.objects.get().lifted_at is not None


@pytest.mark.consumer
def test_a_real_consumer_stops_trying_a_rejected_address(queue_url, start_consumer, smtp_server):
    smtp_server.reject("gone@example.com")
    start_consumer(smtp_server.url)

    send_mail("First", "Body", "from@example.com", ["gone@example.com", "ok@example.com"])
    wait_until(lambda: Suppression.objects.exists(), message="the address to be suppressed")
    send_mail("Second", "Body", "from@example.com", ["gone@example.com"])
    send_mail("Third", "Body", "from@example.com", ["ok@example.com", "gone@example.com"])

    wait_until(lambda: not Message.objects.filter(status__in=["queued", "sending"]).exists(), message="all done")
    assert [(m.subject, m.rcpt_tos) for m in smtp_server.messages] == [
        ("First", ["ok@example.com"]),
        ("Third", ["ok@example.com"]),
    ]
    assert Message.objects.get(subject="Second").status == Message.Status.SUPPRESSED
    assert smtp_server.handler.rcpt_attempts.count("gone@example.com") == 1
    # What the server saw is what the attempt rows say: per message, recipients and reply.
    sent = Attempt.objects.filter(outcome="sent").order_by("started_at")
    assert [(a.message.subject, a.recipients, a.code) for a in sent] == [
        ("First", ["gone@example.com", "ok@example.com"], 250),
        ("Third", ["ok@example.com"], 250),
    ]
    assert Attempt.objects.count() == 2
