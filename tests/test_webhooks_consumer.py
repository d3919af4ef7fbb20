"""Webhooks with a real consumer process: a staff-made chat endpoint, an outage, kill -9 mid-delivery."""

import json
import re
import threading

import pytest
from django.contrib.auth.models import User

from notifications.models import Message
from operations.signals import site_event
from testing.plugin import wait_until
from testing.receiver import Reply
from webhooks.models import Attempt, Delivery, Endpoint

pytestmark = [pytest.mark.consumer, pytest.mark.django_db(transaction=True)]


def delivered(n):
    return lambda: Delivery.objects.filter(status="delivered").count() == n


def test_staff_add_a_slack_style_webhook_and_see_user_signed_up_arrive(client, start_consumer, receiver):
    staff = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.post(
        "/admin/webhooks/endpoint/add/",
        {"name": "Team chat", "url": receiver.url("/hooks/T0/B0/x"), "events": ["user.signed_up"], "format": "chat"},
    )
    client.logout()
    start_consumer()

    client.post(
        "/accounts/signup/",
        {"username": "ada", "email": "ada@example.com", "password1": "a-Long-pass-42", "password2": "a-Long-pass-42"},
    )
    body = Message.objects.get().body_text()
    client.post(re.search(r"http://testserver(/accounts/signup/confirm/\S+/)", body).group(1))

    wait_until(lambda: receiver.received, message="the chat message")
    assert json.loads(receiver.received[0].body) == {"text": "New user signed up: ada"}
    assert receiver.received[0].path == "/hooks/T0/B0/x"


def test_a_receiver_down_for_a_while_gets_every_event_once_back_in_order(start_consumer, receiver):
    Endpoint.objects.create(name="r", url=receiver.url(), events=["report.ready"])
    receiver.default = Reply(503, headers={"Retry-After": "0.3"})
    start_consumer(HUEY_WORKERS=4, WEBHOOKS_RETRY_BASE_SECONDS=0.2, WEBHOOKS_RETRY_MAX_SECONDS=0.5)
    events = [site_event.send(sender="tests", type="report.ready", data={"n": i})[0][1] for i in range(20)]
    wait_until(lambda: len(receiver.received) >= 4, message="a few refused attempts")

    receiver.default = Reply(200)  # back
    wait_until(delivered(20), timeout=60, message="every event delivered")

    first_arrivals = list(dict.fromkeys(receiver.ids()))
    assert first_arrivals == [e.uid for e in events]
    assert receiver.ids().count(events[0].uid) >= 5  # four or more refusals, then the success
    assert all(receiver.ids().count(e.uid) == 1 for e in events[1:])  # the rest: each once, after the first


def test_kill_9_mid_delivery_the_event_still_arrives_with_the_same_id(queue_url, start_consumer, receiver):
    Endpoint.objects.create(name="r", url=receiver.url(), events=["user.signed_up"])
    receiver.answer(Reply(delay=30))  # the first POST hangs: its consumer is killed while it waits
    consumer = start_consumer()
    [(_, event)] = site_event.send(sender="tests", type="user.signed_up", data={"user_id": 1})
    wait_until(lambda: receiver.received, message="the first POST")

    consumer.kill()
    start_consumer()

    wait_until(delivered(1), timeout=60, message="the delivery after the restart")
    assert receiver.ids() == [event.uid, event.uid]  # twice, with one idempotency key
    first, second = Attempt.objects.order_by("id")
    assert (first.outcome, first.error) == ("sending", "its consumer stopped mid-way")
    assert (second.outcome, second.status_code) == ("delivered", 200)


def test_events_raised_by_many_requests_at_once_all_arrive_in_order_with_none_stalled(start_consumer, receiver):
    from django.db import connection

    Endpoint.objects.create(name="r", url=receiver.url(), events=["report.ready"])
    start_consumer(HUEY_WORKERS=4)

    def raise_events(thread):
        try:
            for i in range(25):
                site_event.send(sender="tests", type="report.ready", data={"thread": thread, "n": i})
        finally:
            connection.close()

    threads = [threading.Thread(target=raise_events, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Well within webhooks.kick's two minutes: no delivery waited for it.
    wait_until(delivered(100), timeout=60, message="all 100 delivered")
    order = list(Delivery.objects.order_by("id").values_list("event__uid", flat=True))
    assert receiver.ids() == order  # each once, in the order the deliveries were recorded
