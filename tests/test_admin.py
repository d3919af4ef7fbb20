"""The outbox admin: actions on a selection, and a tampered selection answered as a bad request."""

import pytest
from django.contrib.auth.models import User
from django.core.mail import send_mail

from notifications.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/notifications/message/"


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "a-Long-pass-42"))
    return client


@pytest.mark.parametrize("selected", [[""], ["1x"], ["²"], ["1", "drop table"]])
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
