"""Each consumer process records host, pid and last-seen while it runs, and a clean stop."""

import signal
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from operations import cleanup, heartbeat
from operations.models import Heartbeat
from testing.plugin import wait_until


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_a_running_consumer_beats_and_a_clean_stop_is_recorded(start_consumer):
    consumer = start_consumer(HUEY_WORKERS=3, OPERATIONS_HEARTBEAT_SECONDS=0.2)

    row = wait_until(lambda: Heartbeat.objects.filter(pid=consumer.pid).first(), message="a heartbeat row")
    assert Heartbeat.objects.count() == 1  # one per process, not per worker
    assert row.host == socket.gethostname() and row.workers == 3 and row.queue.startswith(("sqlite:", "redis:"))
    first_seen = row.last_seen
    wait_until(lambda: Heartbeat.objects.get(pk=row.pk).last_seen > first_seen, message="the next beat")
    consumers, alive = heartbeat.latest()
    assert alive and consumers[0].pid == consumer.pid

    consumer.stop(signal.SIGINT)

    row.refresh_from_db()
    assert row.stopped_at is not None
    assert heartbeat.latest()[1] is False


@pytest.mark.django_db
def test_a_silent_consumer_is_not_alive(settings):
    settings.OPERATIONS_HEARTBEAT_STALE_SECONDS = 30
    seen = timezone.now() - timedelta(seconds=31)
    Heartbeat.objects.create(host="h", pid=1, queue="q", started_at=seen, last_seen=seen)

    consumers, alive = heartbeat.latest()

    assert not alive and consumers[0].age >= 31


@pytest.mark.django_db
def test_the_daily_cleanup_prunes_heartbeats_gone_for_a_day():
    now = timezone.now()
    old = Heartbeat.objects.create(host="h", pid=1, queue="q", started_at=now, last_seen=now - timedelta(days=2))
    recent = Heartbeat.objects.create(host="h", pid=2, queue="q", started_at=now, last_seen=now - timedelta(hours=2))

    counts = cleanup.run()

    assert counts["consumer heartbeats"] == 1
    assert list(Heartbeat.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Heartbeat.objects.filter(pk=old.pk).exists()
