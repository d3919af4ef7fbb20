"""Claim, send, record: in this process, against a real SMTP server on loopback."""

import os
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.mail import send_mail
from django.utils import timezone

from durable import lifeline
from notifications import delivery, recording
from notifications.models import Attempt, Message

pytestmark = pytest.mark.django_db(transaction=True)


def queue(n=1, to="to@example.com"):
    for i in range(n):
        send_mail(f"Hello {i}", "Body", "from@example.com", [to])


def test_it_delivers_what_is_queued(deliver_now):
    queue(3)

    arrived = deliver_now()

    assert sorted(m.subject for m in arrived) == ["Hello 0", "Hello 1", "Hello 2"]
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert all(m.attempts == 1 and m.sent_at for m in Message.objects.all())


def test_a_permanent_rejection_fails_at_once(deliver_now, smtp_server):
    smtp_server.reject("gone@example.com")
    queue(1, to="gone@example.com")

    assert deliver_now() == []

    row = Message.objects.get()
    assert row.status == Message.Status.FAILED
    assert row.attempts == 1
    assert "550" in row.last_error


def test_a_transient_refusal_is_retried_later_with_back_off(deliver_now, smtp_server, settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 60
    smtp_server.refuse_for(60)
    queue(1)

    assert deliver_now() == []

    row = Message.objects.get()
    assert row.status == Message.Status.QUEUED
    assert "421" in row.last_error
    assert row.due_at > timezone.now() + timedelta(seconds=50)
    assert deliver_now() == []  # not due yet: not tried again
    assert Message.objects.get().attempts == 1


def test_back_off_grows_exponentially_and_then_gives_up(deliver_now, smtp_server, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    smtp_server.refuse_for(600)
    queue(1)
    delays = []
    for _ in range(3):
        Message.objects.update(due_at=timezone.now())
        before = timezone.now()
        deliver_now()
        row = Message.objects.get()
        delays.append((row.due_at - before).total_seconds())

    assert row.status == Message.Status.FAILED
    assert "gave up after 3 attempts" in row.last_error
    assert 55 < delays[0] < 65 and 115 < delays[1] < 125


def test_an_unreachable_relay_is_a_transient_failure(settings):
    queue(1)
    from notifications.transport import Transport

    delivery.deliver(
        transport_factory=lambda: Transport(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=1, timeout=2
        )
    )

    row = Message.objects.get()
    assert row.status == Message.Status.QUEUED
    assert "ConnectionRefusedError" in row.last_error


def test_two_claims_never_take_the_same_row():
    queue(10)

    first = delivery.claim(limit=6)
    second = delivery.claim(limit=6)

    assert len(first) == 6 and len(second) == 4
    assert not {m.pk for m in first} & {m.pk for m in second}
    assert delivery.claim() == []


def test_a_claim_is_recorded_before_sending():
    queue(1)
    [row] = delivery.claim()

    stored = Message.objects.get()
    assert stored.status == Message.Status.SENDING
    assert stored.claimed_by == delivery.worker_id()
    assert stored.lease_expires_at > timezone.now()
    assert stored.lease_token == row.lease_token


@pytest.mark.consumer
def test_the_sweeper_recovers_an_expired_lease(deliver_now, dead_consumer):
    queue(1)
    dead = dead_consumer(expired=True)  # a consumer took it ... and died

    assert Message.objects.get().claimed_by == f"{delivery.HOST}:{dead.pid}"
    assert lifeline.sweep() == 1
    assert Message.objects.get().status == Message.Status.QUEUED
    assert [m.subject for m in deliver_now()] == ["Hello 0"]


@pytest.mark.consumer
def test_a_live_lease_is_left_alone_by_the_sweeper(dead_consumer):
    queue(1)
    dead_consumer(expired=False)

    assert lifeline.sweep() == 0
    assert Message.objects.get().status == Message.Status.SENDING


def test_a_consumer_that_lost_its_lease_cannot_overwrite_the_outcome():
    queue(1)
    [row] = delivery.claim()
    Message.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    lifeline.sweep()
    delivery.claim()  # another consumer holds it now

    assert row.mark_sent() == 0
    assert Message.objects.get().status == Message.Status.SENDING


@pytest.mark.consumer
def test_orphans_of_a_dead_consumer_on_this_host_are_requeued(dead_consumer):
    queue(3)
    dead = dead_consumer(limit=2, expired=False)

    assert len(dead.ids) == 2
    assert lifeline.recover() == 2
    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}


def test_one_connection_serves_a_whole_batch(deliver_now, smtp_server):
    queue(20)
    deliver_now()

    peers = {m.peer for m in smtp_server.messages}
    assert len(smtp_server.messages) == 20
    assert len(peers) == 1 and peers != {()}


def test_each_attempt_is_a_row_with_the_relays_answer(deliver_now, smtp_server):
    smtp_server.refuse_for(60, reply="421 4.3.2 Service busy")
    queue(1)
    deliver_now()
    smtp_server.refuse_for(0)
    Message.objects.update(due_at=timezone.now())
    deliver_now()

    row = Message.objects.get()
    attempts = list(row.attempt_log.all())
    assert [(a.outcome, a.code) for a in attempts] == [("retry", 421), ("sent", 250)]
    assert attempts[0].reply == "4.3.2 Service busy" and "accepted" in attempts[1].reply
    assert all(a.host == delivery.HOST and a.pid == os.getpid() and 0 < a.duration < 5 for a in attempts)
    assert attempts[1].started_at <= row.sent_at


def test_an_unanswered_attempt_has_no_code(settings):
    queue(1)
    from notifications.transport import Transport

    delivery.deliver(
        transport_factory=lambda: Transport(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=1, timeout=2
        )
    )

    [attempt] = Attempt.objects.all()
    assert attempt.code is None and attempt.outcome == "retry" and "ConnectionRefusedError" in attempt.reply


def _statements(queries, verb, table):
    return [q["sql"] for q in queries if q["sql"].startswith(verb) and table in q["sql"]]


def test_it_records_clean_sends_in_groups_with_their_attempts(deliver_now, smtp_server, settings, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.NOTIFICATIONS_RECORD_EVERY = 10
    monkeypatch.setattr(recording.SentGroup, "MAX_AGE", 60)  # group by count only, however slow this machine
    queue(25)

    with CaptureQueriesContext(connection) as captured:
        arrived = deliver_now()

    assert len(arrived) == 25
    assert Message.objects.filter(status="sent", attempts=1, lease_token="").count() == 25
    assert Attempt.objects.filter(outcome="sent", code=250).count() == 25
    ids = set(Message.objects.values_list("id", flat=True))
    assert set(Attempt.objects.values_list("message_id", flat=True)) == ids
    # One claim, then one UPDATE and one INSERT per group of 10, 10 and 5 (not one of each per message).
    updates = _statements(captured.captured_queries, "UPDATE", '"notifications_message"')
    inserts = _statements(captured.captured_queries, "INSERT", '"notifications_attempt"')
    assert len(updates) == 1 + 3 and len(inserts) == 3
    assert all(" IN (" in sql and "lease_token" in sql for sql in updates)


def test_a_failure_mid_batch_records_the_rows_sent_before_it_first(deliver_now, smtp_server, settings, monkeypatch):
    settings.NOTIFICATIONS_RECORD_EVERY = 10
    monkeypatch.setattr(recording.SentGroup, "MAX_AGE", 60)
    smtp_server.reject("gone@example.com")
    queue(4)
    queue(1, to="gone@example.com")
    queue(3)

    assert len(deliver_now()) == 7

    rows = list(Message.objects.order_by("id"))
    assert [r.status for r in rows] == ["sent"] * 4 + ["failed"] + ["sent"] * 3
    log = list(Attempt.objects.order_by("id").values_list("message_id", "outcome"))
    # The four sent before the failure were recorded before it, the three after it after it.
    assert log == [(r.pk, "sent") for r in rows[:4]] + [(rows[4].pk, "failed")] + [(r.pk, "sent") for r in rows[5:]]


def test_a_batch_ended_by_an_exception_still_records_what_it_sent(smtp_server, settings, monkeypatch):
    from notifications.transport import Transport

    settings.NOTIFICATIONS_RECORD_EVERY = 10
    monkeypatch.setattr(recording.SentGroup, "MAX_AGE", 60)
    queue(6)

    class StoppedAfterThree(Transport):
        sent = 0

        def send(self, row, recipients=None):
            if self.sent == 3:
                raise SystemExit("worker stopped")  # not an SMTP failure: it ends the batch
            self.sent += 1
            return super().send(row, recipients)

    with pytest.raises(SystemExit):
        delivery.deliver(
            transport_factory=lambda: StoppedAfterThree(
                "django.core.mail.backends.smtp.EmailBackend", host=smtp_server.host, port=smtp_server.port
            )
        )

    assert len(smtp_server.messages) == 3
    assert list(Message.objects.order_by("id").values_list("status", flat=True)) == ["sent"] * 3 + ["sending"] * 3
    assert Attempt.objects.filter(outcome="sent").count() == 3


@contextmanager
def short_busy_timeout(seconds):
    """This process's Django connection waits ``seconds`` for SQLite's write lock (production: 20 s)."""
    from django.db import connection

    options = connection.settings_dict["OPTIONS"]
    saved = options.get("timeout")
    connection.close()
    options["timeout"] = seconds
    try:
        yield
    finally:
        connection.close()
        options["timeout"] = saved


def lock_database(seconds):
    """Another process's writer, for real: hold SQLite's write lock on the test database for ``seconds``."""
    import sqlite3
    import threading

    from django.db import connection

    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(seconds, lambda: (other.execute("ROLLBACK"), other.close()))
    timer.start()
    return timer


def test_a_locked_database_ends_the_run_not_the_task_and_strands_nothing(deliver_now, caplog):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write lock")
    queue(3)
    with short_busy_timeout(0.2):
        timer = lock_database(1.0)  # a writer holds the lock past the busy timeout ...
        outcome = delivery.deliver()  # ... while delivery claims
        timer.join()

    assert outcome.sent == 0 and outcome.retry_at  # no exception: the run is tried again a second later
    assert "stayed locked" in caplog.text
    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}  # nothing held
    assert len(deliver_now()) == 3


def test_a_lock_while_recording_is_waited_out_and_nothing_goes_twice(smtp_server, caplog):
    from django.db import connection

    from notifications.transport import Transport

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write lock")
    queue(4)

    class LockingAfterFirstSend(Transport):
        """A real SMTP transport; after its first send another writer takes the database for 0.5 s."""

        sent = 0

        def send(self, row, recipients=None):
            refused = super().send(row, recipients)
            LockingAfterFirstSend.sent += 1
            if LockingAfterFirstSend.sent == 1:
                lock_database(0.5)
            return refused

    with short_busy_timeout(0.2):
        delivery.deliver(
            transport_factory=lambda: LockingAfterFirstSend(
                "django.core.mail.backends.smtp.EmailBackend", host=smtp_server.host, port=smtp_server.port
            )
        )

    assert "not yet recorded: database is locked; trying again" in caplog.text
    assert sorted(m.subject for m in smtp_server.messages) == [f"Hello {i}" for i in range(4)]
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
