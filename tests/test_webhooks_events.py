"""Where events come from (accounts, reports, notifications, operations by the signal) and what staff see."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from notifications.models import Message
from operations.models import Heartbeat
from operations.signals import EVENT_TYPES, site_event
from reports import generation, registry, requests
from webhooks.models import Delivery, Endpoint, Event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def everything(receiver):
    return Endpoint.objects.create(name="All", url=receiver.url(), events=list(EVENT_TYPES))


@pytest.fixture
def staff_client(client):
    user = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_a_confirmed_sign_up_is_a_user_signed_up_event(client, everything):
    client.post(
        "/accounts/signup/",
        {"username": "ada", "email": "ada@example.com", "password1": "a-Long-pass-42", "password2": "a-Long-pass-42"},
    )
    assert not Event.objects.exists()  # not before the address is confirmed
    confirm = Message.objects.get()
    link = re.search(r"http://testserver(/accounts/signup/confirm/\S+/)", confirm.body_text()).group(1)

    client.post(link)

    event = Event.objects.get()
    ada = User.objects.get(username="ada")
    assert (event.type, event.data) == ("user.signed_up", {"user_id": ada.pk, "username": "ada"})
    assert event.summary == "New user signed up: ada"
    assert Delivery.objects.get().endpoint == everything


def test_a_finished_report_is_a_report_ready_event(everything):
    ada = User.objects.create_user("ada", "ada@example.com", "pw")
    params = {"start": "2026-03-01", "end": "2026-03-03"}
    report, _ = requests.request_report(ada, registry.get("signups-per-day"), params, "csv", site_url="http://x")

    generation.generate(report.pk)

    event = Event.objects.get(type="report.ready")
    assert event.data == {"report_id": report.pk, "type": "signups-per-day", "rows": 3, "owner_id": ada.pk}


def test_an_email_failed_permanently_is_an_event_without_its_address(everything, deliver_now, smtp_server):
    smtp_server.reject("gone@example.com")
    send_mail("Private subject", "Body", "from@example.com", ["gone@example.com"])

    deliver_now()

    event = Event.objects.get(type="email.failed")
    row = Message.objects.get()
    assert event.data == {"outbox_id": row.pk, "reason": "address rejected", "recipients": 1}
    assert "gone@example.com" not in str(event.data) + event.summary and "Private" not in event.summary


def test_health_turning_fail_for_the_consumer_is_one_consumer_down_event(client, everything):
    seen = timezone.now() - timedelta(minutes=5)
    Heartbeat.objects.create(host="web1", pid=4242, queue="q", started_at=seen, last_seen=seen)

    for _ in range(3):
        assert client.get("/health/").status_code == 503

    event = Event.objects.get(type="consumer.down")
    assert event.summary.startswith("Consumer down: no consumer heartbeat for")


def test_an_event_rolled_back_with_its_senders_transaction_leaves_nothing(everything):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        site_event.send(sender="tests", type="user.signed_up", data={"user_id": 1})
        1 / 0  # noqa: B018 - the sign-up failed after the event

    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_an_unknown_event_type_is_the_senders_bug():
    with pytest.raises(ValueError, match="unknown webhook event type 'user.sined_up'"):
        site_event.send(sender="tests", type="user.sined_up", data={})


def test_staff_add_a_slack_style_endpoint_in_the_admin(staff_client, receiver):
    response = staff_client.post(
        "/admin/webhooks/endpoint/add/",
        {"name": "Team chat", "url": receiver.url("/hooks/abc"), "events": ["user.signed_up"], "format": "chat"},
    )

    assert response.status_code == 302, response.context["adminform"].errors
    ep = Endpoint.objects.get()
    assert (ep.format, ep.events, ep.url) == ("chat", ["user.signed_up"], receiver.url("/hooks/abc"))
    assert ep.secret.startswith("whsec_")
    page = staff_client.get(f"/admin/webhooks/endpoint/{ep.pk}/change/").content.decode()
    assert ep.secret in page  # staff copy it to the receiver


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.com/hook", "Only http:// and https:// URLs can receive webhooks."),
        ("javascript:alert(1)", "Enter a valid URL."),
        ("http://user:pw@127.0.0.1/hook", "Put no user name or password in the URL"),
        ("http://10.1.2.3/hook", "Refused: 10.1.2.3 is not a public address, nor in WEBHOOKS_ALLOWED_NETWORKS."),
    ],
)
def test_a_bad_url_is_a_form_error_not_a_500(staff_client, url, error):
    response = staff_client.post(
        "/admin/webhooks/endpoint/add/", {"name": "x", "url": url, "events": ["user.signed_up"], "format": "json"}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Endpoint.objects.exists()


def test_staff_see_a_paused_endpoint_and_why_in_the_admin_and_on_the_operations_page(staff_client, everything):
    everything.pause("10 failed attempts in a row; the last: 503 Service Unavailable")
    site_event.send(sender="tests", type="user.signed_up", data={"user_id": 1})

    listing = staff_client.get("/admin/webhooks/endpoint/").content.decode()
    ops = staff_client.get("/operations/").content.decode()

    for page in (listing, ops):
        assert "10 failed attempts in a row; the last: 503 Service Unavailable" in page
    assert 'id="ops-webhooks"' in ops and "1 waiting" in ops


def test_resuming_in_the_admin_sends_what_waited(staff_client, everything, receiver):
    everything.pause("by hand")
    site_event.send(sender="tests", type="user.signed_up", data={"user_id": 1})

    response = staff_client.post(
        "/admin/webhooks/endpoint/", {"action": "resume", "_selected_action": [everything.pk]}, follow=True
    )

    assert "1 endpoint(s) resumed." in response.content.decode()
    everything.refresh_from_db()
    assert everything.paused_at is None
    from durable import claim

    claim.run_due()
    assert len(receiver.received) == 1 and Delivery.objects.get().status == "delivered"


def test_a_delivery_shows_its_attempts_in_the_admin(staff_client, everything, receiver):
    from durable import claim

    site_event.send(sender="tests", type="user.signed_up", data={"user_id": 1})
    claim.run_due()
    d = Delivery.objects.get()

    page = staff_client.get(f"/admin/webhooks/delivery/{d.pk}/change/").content.decode()

    assert d.event.uid in page and "delivered" in page and ">200<" in page


def test_staff_pause_an_endpoint_and_give_it_a_new_secret_in_the_admin(staff_client, everything):
    old = everything.secret

    for action in ("pause", "new_secret"):
        staff_client.post("/admin/webhooks/endpoint/", {"action": action, "_selected_action": [everything.pk]})

    everything.refresh_from_db()
    assert everything.paused_at is not None and everything.paused_reason == "paused by ops"
    assert everything.secret != old and everything.secret.startswith("whsec_")
    site_event.send(sender="tests", type="user.signed_up", data={"user_id": 1})
    assert Delivery.objects.get().status == "pending"  # waits for the resume
