"""The daily cleanup: exactly what is past retention, in batches, once a day."""

import datetime
import zoneinfo
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from durable import periodic
from durable.models import Periodic, Task
from notifications.models import Attempt, Message
from operations import cleanup, queue_results
from operations.tasks import at_site_midnight

pytestmark = pytest.mark.django_db(transaction=True)
NO_REPORTS = {"expired report files": 0, "old report records": 0, "orphan report files": 0}  # tests/test_retention.py
NO_IMAGES = {  # tests/test_images_retention.py
    "pictures of deleted users": 0,
    "replaced pictures": 0,
    "refused pictures": 0,
    "orphan picture folders": 0,
}
NO_TASKS = {"finished tasks": 0, "finished chains and batches": 0}  # tests/test_durable_visibility.py
CLEANUP = "operations.tasks.daily_cleanup"


def row(status, age_days):
    return Message.objects.create(
        status=status,
        from_email="f@example.com",
        recipients=["t@example.com"],
        raw=b"x",
        finished_at=timezone.now() - timedelta(days=age_days) if status != "queued" else None,
        created_at=timezone.now() - timedelta(days=age_days),
    )


@pytest.fixture
def rows():
    return {
        "old_sent": row("sent", 31),
        "new_sent": row("sent", 29),
        "old_failed": row("failed", 91),
        "new_failed": row("failed", 60),
        "old_cancelled": row("cancelled", 91),
        "old_queued": row("queued", 400),
    }


NO_WEBHOOKS = {
    "webhook deliveries and their attempts": 0,
    "webhook events": 0,
}  # webhooks' own: tests/test_webhooks_retention.py


def test_it_deletes_exactly_what_is_past_retention(rows):
    Session.objects.create(session_key="old", session_data="x", expire_date=timezone.now() - timedelta(days=1))
    Session.objects.create(session_key="live", session_data="x", expire_date=timezone.now() + timedelta(days=1))

    counts = cleanup.run()

    assert counts == {
        "sent e-mails": 1,
        "failed or cancelled e-mails": 2,
        "delivery attempts": 0,
        "expired sessions": 1,
        "consumer heartbeats": 0,
        **NO_REPORTS,
        **NO_IMAGES,
        **NO_WEBHOOKS,
        **NO_TASKS,
        "unread queue results": 0,
    }
    left = set(Message.objects.values_list("pk", flat=True))
    assert left == {rows["new_sent"].pk, rows["new_failed"].pk, rows["old_queued"].pk}
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]


def test_it_deletes_in_batches(monkeypatch):
    monkeypatch.setattr(cleanup, "BATCH", 3)
    for _ in range(8):
        row("sent", 40)

    assert cleanup.run()["sent e-mails"] == 8
    assert not Message.objects.exists()


def test_it_is_idempotent(rows):
    cleanup.run()
    assert cleanup.run() == {
        "sent e-mails": 0,
        "failed or cancelled e-mails": 0,
        "delivery attempts": 0,
        "expired sessions": 0,
        "consumer heartbeats": 0,
        **NO_REPORTS,
        **NO_IMAGES,
        **NO_WEBHOOKS,
        **NO_TASKS,
        "unread queue results": 0,
    }


def test_the_command_dry_run_deletes_nothing(rows, capsys):
    call_command("cleanup", "--dry-run")

    out = capsys.readouterr().out
    assert "Would prune 1 sent e-mails" in out and "Done! Would prune 3 rows." in out
    assert Message.objects.count() == 6
    call_command("cleanup")
    assert "Done! Pruned 3 rows." in capsys.readouterr().out
    assert Message.objects.count() == 3


def last_ran_the_night_before_last(now):
    """The cleanup's slot row as after a night without a consumer: the latest midnight is missed."""
    Periodic.objects.create(name=CLEANUP, last_slot=periodic.latest_slot(at_site_midnight, now) - timedelta(days=1))


def test_it_runs_once_per_site_day(rows, run_tasks, monkeypatch):
    now = timezone.now()
    clock = {"now": now}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    daily = periodic.declared()[CLEANUP]
    last_ran_the_night_before_last(now)

    assert daily.tick(now) is not None and run_tasks() == 1
    assert daily.tick(now + timedelta(minutes=5)) is None
    row("sent", 40)
    clock["now"] = now + timedelta(days=1)
    assert daily.tick(clock["now"]) is not None and run_tasks() == 1
    # A day on: the new row, and the 29-day-old one that is now past 30 days.
    assert Task.objects.filter(name=CLEANUP).latest("id").return_value["sent e-mails"] == 2
    assert Task.objects.filter(name=CLEANUP, status="successful").count() == 2


def test_the_periodic_task_runs_it_at_site_midnight(rows, run_periodic, run_tasks, settings, monkeypatch):
    settings.TIME_ZONE = "Europe/Paris"
    midnight = datetime.datetime(2031, 1, 15, 0, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))

    assert "durable.tick" in run_periodic(midnight - timedelta(minutes=1))  # Huey's clock; the first tick sees it
    assert not Task.objects.filter(name=CLEANUP).exists()
    assert "durable.tick" in run_periodic(midnight)
    assert Task.objects.filter(name=CLEANUP).count() == 1

    assert Periodic.objects.get(name=CLEANUP).last_slot == midnight
    monkeypatch.setattr(timezone, "now", lambda: midnight + timedelta(minutes=1))  # a consumer runs it then
    run_tasks()
    assert Task.objects.get(name=CLEANUP).status == "successful"
    assert Message.objects.count() == 1  # years on, only the queued row is left


def test_it_prunes_attempts_past_retention(deliver_now, settings):
    from django.core.mail import send_mail

    settings.NOTIFICATIONS_ATTEMPT_RETENTION_DAYS = 10
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    deliver_now()
    Attempt.objects.update(started_at=timezone.now() - timedelta(days=11))

    assert cleanup.run()["delivery attempts"] == 1
    assert not Attempt.objects.exists() and Message.objects.exists()


def test_it_prunes_queue_results_nobody_read_a_run_later():
    import uuid

    from huey.contrib.djhuey import HUEY

    unread = str(uuid.uuid4())
    HUEY.storage.put_data(unread, b"a result", is_result=True)
    HUEY.storage.put_data("mysite.lock.reports", b"1")

    assert cleanup.run()["unread queue results"] == 0  # seen now; may still be read
    fresh = str(uuid.uuid4())
    HUEY.storage.put_data(fresh, b"another", is_result=True)
    assert cleanup.run()["unread queue results"] == 1

    assert set(HUEY.storage.result_items()) == {fresh, "mysite.lock.reports", queue_results.MARKER}


def test_midnight_is_the_site_time_zone_midnight(settings):
    settings.TIME_ZONE = "Europe/Paris"
    utc_naive = datetime.datetime(2026, 1, 14, 23, 0)  # 00:00 in Paris (UTC+1)
    assert at_site_midnight(utc_naive)
    assert not at_site_midnight(datetime.datetime(2026, 1, 15, 0, 0))


@pytest.mark.consumer
def test_the_consumer_catches_up_a_missed_cleanup_once(rows, start_consumer):
    last_ran_the_night_before_last(timezone.now())
    consumer = start_consumer()
    consumer.wait_for_log(" 1 sent e-mails, 2 failed or cancelled e-mails")
    consumer.stop()
    again = start_consumer()
    again.wait_for_log("periodic tasks declared here")

    assert Message.objects.count() == 3
    assert Task.objects.filter(name=CLEANUP).count() == 1
    assert "caught up" in consumer.log() and CLEANUP in again.log()
