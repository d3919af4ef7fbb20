"""The outbox in the admin: list, filter, search, read, retry, cancel."""

import pytest
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives, send_mail
from huey.contrib.djhuey import HUEY

from notifications.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client):
    # force_login: django-axes checks every authenticate() and needs the request a real log-in has.
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_it_lists_filters_and_searches(staff_client):
    send_mail("To Ada", "x", "f@example.com", ["ada@example.com"])
    send_mail("To Bob", "x", "f@example.com", ["bob@example.com"])
    Message.objects.filter(subject="To Bob").update(status="failed")

    assert b"To Ada" in staff_client.get("/admin/notifications/message/").content
    failed = staff_client.get("/admin/notifications/message/?status__exact=failed").content
    assert b"To Bob" in failed and b"To Ada" not in failed
    found = staff_client.get("/admin/notifications/message/?q=ada@").content
    assert b"To Ada" in found and b"To Bob" not in found


def test_it_shows_the_message_read_only(staff_client):
    msg = EmailMultiAlternatives("Hello", "the plain body", "f@example.com", ["ada@example.com"])
    msg.attach_alternative("<p>html</p>", "text/html")
    msg.send()
    row = Message.objects.get()

    page = staff_client.get(f"/admin/notifications/message/{row.pk}/change/")

    assert page.status_code == 200
    assert b"the plain body" in page.content and b"text/html" in page.content
    assert b'name="_save"' not in page.content


def test_retry_requeues_failed_and_cancel_stops_queued(staff_client):
    send_mail("A", "x", "f@example.com", ["a@example.com"])
    send_mail("B", "x", "f@example.com", ["b@example.com"])
    a, b = Message.objects.get(subject="A"), Message.objects.get(subject="B")
    Message.objects.filter(pk=a.pk).update(status="failed", last_error="550")
    pending = HUEY.pending_count()

    staff_client.post("/admin/notifications/message/", {"action": "retry", "_selected_action": [a.pk]})
    staff_client.post("/admin/notifications/message/", {"action": "cancel", "_selected_action": [b.pk]})

    assert Message.objects.get(pk=a.pk).status == "queued"
    assert HUEY.pending_count() == pending + 1
    assert Message.objects.get(pk=b.pk).status == "cancelled"


def test_sent_mail_cannot_be_retried_or_cancelled(staff_client):
    send_mail("A", "x", "f@example.com", ["a@example.com"])
    Message.objects.update(status="sent")
    pk = Message.objects.get().pk

    r = staff_client.post("/admin/notifications/message/", {"action": "cancel", "_selected_action": [pk]}, follow=True)

    assert Message.objects.get().status == "sent"
    assert b"cannot be cancelled" in r.content


def test_non_staff_cannot_see_the_outbox(client):
    client.force_login(User.objects.create_user("ada", "ada@example.com", "pw"))

    assert client.get("/admin/notifications/message/").status_code == 302


def test_a_message_shows_its_attempts_in_order(staff_client, deliver_now, smtp_server):
    smtp_server.refuse_for(60, reply="421 4.3.2 first refusal")
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    deliver_now()
    Message.objects.update(due_at=Message.objects.get().created_at)
    smtp_server.refuse_for(0)
    deliver_now()
    row = Message.objects.get()

    page = staff_client.get(f"/admin/notifications/message/{row.pk}/change/").content.decode()

    assert page.index("4.3.2 first refusal") < page.index("Message accepted for delivery")
    assert page.count('<td class="field-outcome">') == 2


def test_the_list_shows_throttled_rows(staff_client, settings):
    from notifications import delivery

    settings.EMAIL_RATE_LIMIT = "1/h"
    for i in range(3):
        send_mail(f"Hi {i}", "Body", "from@example.com", ["to@example.com"])
    delivery.deliver()

    page = staff_client.get("/admin/notifications/message/?waiting=throttled").content.decode()

    assert page.count("waiting: relay limit") == 2
    assert "Hi 0" not in page


CHANGELIST = "/admin/notifications/message/"


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "a-Long-pass-42"))
    return client


@pytest.mark.parametrize("selected", [[""], ["1x"], ["²"], ["1", "drop table"], ["9223372036854775808"]])
def test_it_answers_a_tampered_selection_with_400_and_changes_nothing(staff, selected):
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])

    response = staff.post(CHANGELIST, {"action": "cancel", "_selected_action": selected, "index": "0"})

    assert response.status_code == 400
    assert list(Message.objects.values_list("status", flat=True)) == ["queued"]


def test_it_still_cancels_the_selected_emails(staff):
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    row = Message.objects.get()

    response = staff.post(CHANGELIST, {"action": "cancel", "_selected_action": [str(row.pk)], "index": "0"})

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == "cancelled"
