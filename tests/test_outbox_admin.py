"""The outbox in the admin: each message's attempts in order, its state in words, the throttled filter."""

import pytest
from django.contrib.auth.models import User
from django.core.mail import send_mail

from notifications.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "x"))
    return client


def test_a_message_shows_its_attempts_in_order(admin_client, deliver_now, smtp_server):
    smtp_server.refuse_for(60, reply="421 4.3.2 first refusal")
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    deliver_now()
    Message.objects.update(due_at=Message.objects.get().created_at)
    smtp_server.refuse_for(0)
    deliver_now()
    row = Message.objects.get()

    page = admin_client.get(f"/admin/notifications/message/{row.pk}/change/").content.decode()

    assert page.index("4.3.2 first refusal") < page.index("Message accepted for delivery")
    assert page.count('<td class="field-outcome">') == 2


def test_the_list_shows_throttled_rows(admin_client, settings):
    from notifications import delivery

    settings.EMAIL_RATE_LIMIT = "1/h"
    for i in range(3):
        send_mail(f"Hi {i}", "Body", "from@example.com", ["to@example.com"])
    delivery.deliver()

    page = admin_client.get("/admin/notifications/message/?waiting=throttled").content.decode()

    assert page.count("waiting: relay limit") == 2
    assert "Hi 0" not in page
