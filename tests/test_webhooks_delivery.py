"""Deliveries to a real HTTP server on loopback: signed, in order, retried, failed at once, paused, recorded."""

import json
import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from durable import claim
from durable.models import Task
from operations.signals import site_event
from testing.receiver import CLOSE, Reply
from webhooks import delivery as webhooks_delivery
from webhooks import signing
from webhooks.models import Attempt, Delivery, Endpoint, Event

# Transactional, as a consumer runs: the lease monitor renews on its own connection while a task runs, and an
# open test transaction would hold SQLite's write lock against it (a 20 s stall at the busy timeout).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 0.05
    settings.WEBHOOKS_RETRY_MAX_SECONDS = 0.2
    settings.WEBHOOKS_READ_TIMEOUT = 1


def endpoint(receiver, events=("user.signed_up",), **fields):
    return Endpoint.objects.create(name="Receiver", url=receiver.url(), events=list(events), **fields)


def emit(n=1, type="user.signed_up"):
    return [
        site_event.send(sender="tests", type=type, data={"user_id": i}, summary=f"New user signed up: u{i}")[0][1]
        for i in range(n)
    ]


def drain(timeout=15):
    """Run due tasks until no delivery of a running endpoint is pending."""
    deadline = time.monotonic() + timeout
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING, endpoint__paused_at=None)
    while pending.exists():
        assert time.monotonic() < deadline, f"still pending: {list(pending.values('id', 'attempts', 'last_error'))}"
        claim.run_due()
        time.sleep(0.02)


def test_an_event_arrives_as_signed_json_with_its_id(receiver):
    ep = endpoint(receiver)
    [event] = emit()

    drain()

    [got] = receiver.received
    body = json.loads(got.body)
    assert body == {
        "id": event.uid,
        "type": "user.signed_up",
        "timestamp": event.occurred_at.isoformat(),
        "data": {"user_id": 0},
    }
    assert got.headers["content-type"] == "application/json"
    assert got.id == event.uid and event.uid.startswith("evt_")
    expected = signing.signature(ep.secret, event.uid, int(got.headers["webhook-timestamp"]), got.body)
    assert got.headers["webhook-signature"] == expected
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    d = Delivery.objects.get()
    assert d.status == "delivered" and d.attempts == 1 and d.finished_at is not None


def test_the_chat_format_posts_the_text_slack_mattermost_and_teams_show(receiver):
    endpoint(receiver, format=Endpoint.Format.CHAT)
    emit()

    drain()

    assert json.loads(receiver.received[0].body) == {"text": "New user signed up: u0"}


def test_only_subscribed_endpoints_get_an_event(receiver):
    endpoint(receiver, events=["report.ready"])
    assert emit() == [None]
    assert not Delivery.objects.exists()


def test_500s_for_a_while_are_retried_and_everything_arrives_in_order(receiver):
    endpoint(receiver)
    receiver.answer(Reply(500), Reply(503), Reply(502))
    events = emit(4)

    drain()

    first = events[0].uid
    assert receiver.ids() == [first, first, first, first, *(e.uid for e in events[1:])]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    outcomes = list(Attempt.objects.filter(delivery__event=events[0]).values_list("status_code", "outcome"))
    assert outcomes == [(500, "retry"), (503, "retry"), (502, "retry"), (200, "delivered")]
    assert Endpoint.objects.get().consecutive_failures == 0


def test_429_with_retry_after_waits_that_long(receiver, settings):
    settings.WEBHOOKS_RETRY_MAX_SECONDS = 600
    endpoint(receiver)
    receiver.answer(Reply(429, headers={"Retry-After": "120"}))
    emit()
    before = timezone.now()

    claim.run_due()
    claim.run_due()

    assert len(receiver.received) == 1  # not again: it asked for two minutes
    d = Delivery.objects.get()
    assert d.status == "pending" and d.last_error == "429 Too Many Requests"
    assert 119 <= (d.next_attempt_at - before).total_seconds() <= 122


def test_410_fails_at_once_and_the_next_event_goes(receiver):
    endpoint(receiver)
    receiver.answer(Reply(410, body=b"this hook was removed"))
    events = emit(2)

    drain()

    assert receiver.ids() == [e.uid for e in events]
    first, second = Delivery.objects.order_by("id")
    assert (first.status, first.attempts, first.last_error) == ("failed", 1, "410 Gone")
    assert second.status == "delivered"
    [attempt] = first.attempt_log.all()
    assert attempt.outcome == "failed" and attempt.response_excerpt == "this hook was removed"


def test_a_slow_receiver_times_out_and_is_tried_again(receiver, settings):
    settings.WEBHOOKS_READ_TIMEOUT = 0.3
    endpoint(receiver)
    receiver.answer(Reply(delay=1.0))
    [event] = emit()

    drain()

    assert receiver.ids() == [event.uid, event.uid]
    slow, ok = Attempt.objects.order_by("id")
    assert slow.outcome == "retry" and slow.status_code is None and slow.error == "timed out (ReadTimeout)"
    assert ok.outcome == "delivered"


def test_a_connection_closed_without_an_answer_is_tried_again(receiver):
    endpoint(receiver)
    receiver.answer(CLOSE, CLOSE)
    [event] = emit()

    drain()

    assert receiver.ids() == [event.uid] * 3
    errors = list(Attempt.objects.order_by("id").values_list("outcome", "error"))
    assert errors[:2] == [("retry", "RemoteProtocolError: Server disconnected without sending a response.")] * 2
    assert errors[2] == ("delivered", "")


def test_a_receiver_that_is_down_is_retried(receiver, settings):
    # One attempt per run_due: with this file's 0.05 s back-off, a busy machine's run_due met the retry too.
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 60
    ep = endpoint(receiver)
    receiver.stop()  # nothing listens on its port now
    emit()

    claim.run_due()

    d = Delivery.objects.get()
    assert d.status == "pending" and d.last_error.startswith("ConnectError")
    assert Endpoint.objects.get(pk=ep.pk).consecutive_failures == 1


def test_after_n_failures_in_a_row_the_endpoint_pauses_and_resuming_sends_what_waited_in_order(receiver, settings):
    settings.WEBHOOKS_PAUSE_AFTER = 3
    receiver.default = Reply(503, body=b"down for maintenance")
    ep = endpoint(receiver)
    events = emit(2)

    drain()  # until paused

    ep.refresh_from_db()
    assert ep.paused_at is not None and ep.consecutive_failures == 3
    assert ep.paused_reason == "3 failed attempts in a row; the last: 503 Service Unavailable"
    assert receiver.ids() == [events[0].uid] * 3
    assert list(Delivery.objects.order_by("id").values_list("status", flat=True)) == ["pending", "pending"]
    later = emit(1)  # while paused: recorded, not sent
    for _ in range(3):
        claim.run_due()
    assert len(receiver.received) == 3

    receiver.default = Reply(200)
    assert webhooks_delivery.resume([ep.pk]) == 1
    drain()

    assert receiver.ids()[3:] == [e.uid for e in [*events, *later]]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_every_attempt_is_recorded_with_a_bounded_excerpt(receiver):
    endpoint(receiver)
    receiver.answer(Reply(500, body=b"E" * 100_000))
    emit()

    drain()

    failed, ok = Attempt.objects.order_by("id")
    assert failed.status_code == 500 and failed.outcome == "retry" and failed.response_excerpt == "E" * 500
    assert failed.duration is not None and failed.started_at <= ok.started_at
    assert (ok.number, ok.status_code, ok.response_excerpt) == (2, 200, "ok")


def test_a_huge_answer_is_not_read_whole(receiver):
    endpoint(receiver)
    receiver.answer(Reply(200, stream=200 * 1024 * 1024))
    emit()

    drain()

    assert Delivery.objects.get().status == "delivered"
    assert receiver.streamed < 50 * 1024 * 1024  # we stopped reading at WEBHOOKS_MAX_RESPONSE_BYTES and hung up


def test_logs_name_the_delivery_but_never_the_body_the_secret_or_the_urls_path(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    ep = Endpoint.objects.create(
        name="Chat", url=receiver.url("/services/T000/B000/XXXXSECRETPATH"), events=["user.signed_up"]
    )
    receiver.answer(Reply(500, body=b"RESPONSE-BODY-MARKER"))
    site_event.send(sender="tests", type="user.signed_up", data={"marker": "BODY-MARKER"}, summary="SUMMARY")

    drain()

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"to endpoint {ep.pk} (127.0.0.1) delivered" in text and "retry in" in text
    for secret in ("XXXXSECRETPATH", ep.secret, ep.secret.removeprefix("whsec_"), "BODY-MARKER", "RESPONSE-BODY"):
        assert secret not in text


def test_every_delivery_gets_its_task_at_once_and_durable_keeps_them_in_order_per_endpoint(receiver):
    ep = endpoint(receiver)
    receiver.answer(Reply(500))
    events = emit(3)

    tasks = Task.objects.filter(name="webhooks.tasks.deliver")
    key = f"webhook:127.0.0.1/{ep.pk}"  # one at a time per endpoint (concurrency=1, ordered); the rate per host
    assert list(tasks.values_list("group", flat=True)) == [key] * 3

    drain()

    assert receiver.ids() == [events[0].uid, *(e.uid for e in events)]  # the retry held the others back


def test_a_head_whose_task_was_lost_is_enqueued_again_by_the_kick(receiver):
    ep = endpoint(receiver)
    event = Event.objects.create(type="user.signed_up")
    overdue = timezone.now() - timedelta(minutes=5)
    Delivery.objects.create(endpoint=ep, event=event, next_attempt_at=overdue)  # as if its task had been given up
    assert claim.run_due() == 0

    assert webhooks_delivery.kick() == 1
    claim.run_due()

    assert receiver.ids() == [event.uid]


@pytest.mark.parametrize(("status", "outcome"), [(408, "retry"), (400, "failed"), (401, "failed"), (404, "failed")])
def test_408_is_retried_and_other_4xx_fail_at_once(receiver, status, outcome, settings):
    settings.WEBHOOKS_RETRY_BASE_SECONDS = (
        60  # the retry is not due within this run_due (0.05 s could be, on a slow run)
    )
    endpoint(receiver)
    receiver.answer(Reply(status))
    emit()

    claim.run_due()

    assert Attempt.objects.get().outcome == outcome


def test_deliveries_to_two_endpoints_on_one_host_share_its_rate_and_a_bad_rate_stops_start_up(receiver):
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from durable.options import options_of
    from webhooks import tasks
    from webhooks.checks import check_settings

    first, second = endpoint(receiver), endpoint(receiver)
    emit()

    opts = options_of(tasks.deliver)
    keys = sorted(Task.objects.values_list("group", flat=True))
    assert keys == [f"webhook:127.0.0.1/{first.pk}", f"webhook:127.0.0.1/{second.pk}"]
    assert {opts.rate_scope(key) for key in keys} == {"webhook:127.0.0.1/"} and opts.rate == "50/s"
    with pytest.raises(ImproperlyConfigured, match="WEBHOOKS_RATE_PER_HOST: rate must be starts per period"):
        tasks.per_host_rate("fast")  # when the consumer imports the task
    assert tasks.per_host_rate("") is None and tasks.per_host_rate("5/m") == "5/m"
    with override_settings(WEBHOOKS_RATE_PER_HOST="fast"):
        [error] = check_settings()  # and at start-up, as every manage.py command checks
    assert error.id == "webhooks.E003" and "rate must be starts per period" in error.msg
