"""The pytest plugin's own promises: the clock moves for periodic tasks, a dead consumer is really dead."""

import datetime
from datetime import timedelta

import pytest
from django.core.mail import send_mail
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY

from durable import leases
from notifications.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
DOOMSDAY = datetime.datetime(2099, 1, 1, 0, 0, tzinfo=datetime.UTC)


@HUEY.periodic_task(crontab(minute="0", hour="0", day="1", month="1"))
def fails_on_new_year():
    if timezone.now().year == 2099:
        raise RuntimeError("the new-year task broke")


@pytest.mark.consumer
def test_run_periodic_runs_what_is_due_with_the_clock_moved(dead_consumer, run_periodic, settings):
    send_mail("Hi", "Body", "from@example.com", ["to@example.com"])
    dead = dead_consumer(expired=False)  # its lease still runs
    later = timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS + 60)

    ran = run_periodic(later.replace(second=0, microsecond=0))

    assert "durable.sweep" in ran and "fails_on_new_year" not in ran  # the one sweep of every leased kind
    row = Message.objects.get(pk=dead.ids[0])
    assert row.status == Message.Status.QUEUED and "lease expired" in row.last_error


def test_run_periodic_fails_the_test_when_a_task_raises(run_periodic):
    with pytest.raises(RuntimeError, match="the new-year task broke"):
        run_periodic(DOOMSDAY)


@pytest.mark.consumer
def test_the_dead_consumer_is_gone_and_holds_its_rows(dead_consumer):
    for i in range(3):
        send_mail(f"Hi {i}", "Body", "from@example.com", ["to@example.com"])

    dead = dead_consumer(limit=2, expired=False)

    assert not leases.pid_alive(dead.pid)
    held = Message.objects.filter(status=Message.Status.SENDING)
    assert sorted(held.values_list("pk", flat=True)) == sorted(dead.ids)
    assert all(m.lease_expires_at > timezone.now() for m in held)
