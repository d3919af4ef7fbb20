"""The durable backend with a real consumer process: kill -9, crash loops, graceful stops (each queue storage)."""

import signal
import time

import pytest
from django.utils import timezone

from durable.compat import TaskResultStatus
from durable.models import Task, TaskAttempt
from testing.plugin import wait_until
from tests import durable_tasks

pytestmark = [pytest.mark.consumer, pytest.mark.django_db(transaction=True)]


def marks(path):
    return path.read_text().splitlines() if path.exists() else []


def count(path, word, tag=None):
    return sum(1 for line in marks(path) if line.split()[0] == word and (tag is None or line.split()[1] == tag))


def statuses(ids):
    return list(Task.objects.filter(pk__in=ids).values_list("status", flat=True))


@pytest.mark.slow
def test_kill_9_while_tasks_run_loses_none_and_they_run_again_at_restart(queue_url, start_consumer, tmp_path):
    path = tmp_path / "marks"
    ids = [durable_tasks.slow.enqueue(str(path), 1.5, tag=str(i)).id for i in range(12)]
    consumer = start_consumer(HUEY_WORKERS=4, DURABLE_LEASE_SECONDS=300)  # a lease that cannot lapse in the test
    wait_until(lambda: count(path, "start") >= 4, message="four tasks to run")

    consumer.kill()
    # In flight: what the killed consumer held, by the rows (a task may have written its "end" mark and been
    # killed before its outcome committed: it is in flight, and runs again).
    in_flight = {row.kwargs["tag"] for row in Task.objects.filter(pk__in=ids, status="running")}
    restarted = timezone.now()
    start_consumer(HUEY_WORKERS=4)
    wait_until(lambda: statuses(ids) == ["successful"] * 12, timeout=60, message="every task to succeed")

    for i in range(12):
        assert count(path, "end", str(i)) >= 1
        assert count(path, "start", str(i)) <= (2 if str(i) in in_flight else 1)
    assert in_flight
    for row in Task.objects.filter(pk__in=ids, kwargs__tag__in=sorted(in_flight)):
        result = durable_tasks.slow.get_result(str(row.pk))
        assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == row.kwargs["tag"]
        assert result.attempts == 2 and len(set(result.worker_ids)) == 2
        assert [e.exception_class_path for e in result.errors] == ["durable.exceptions.ConsumerLost"]
        # On the same host, the restart took them back at once, ahead of the queue (not after the 300 s lease).
        assert (row.last_attempted_at - restarted).total_seconds() < 60


def test_a_task_that_kills_its_consumer_every_time_ends_failed(queue_url, start_consumer, tmp_path):
    path = tmp_path / "marks"
    result = durable_tasks.crash.enqueue(str(path))  # max_attempts=2

    for _ in range(2):
        consumer = start_consumer()
        assert consumer.proc.wait(30) == 3  # os._exit(3) in the task took the consumer down
    survivor = start_consumer()
    wait_until(lambda: Task.objects.get(pk=result.id).status == "failed", message="the task to be failed")

    assert survivor.proc.poll() is None
    assert count(path, "crash") == 2
    row = Task.objects.get(pk=result.id)
    assert row.attempts == 2 and "gave up after 2 attempts" in row.last_error
    assert list(TaskAttempt.objects.filter(task=row).values_list("outcome", flat=True)) == ["lost", "failed"]


@pytest.mark.slow
def test_sigint_stops_the_consumer_in_seconds_with_nothing_run_twice(queue_url, start_consumer, tmp_path):
    path = tmp_path / "marks"
    ids = [durable_tasks.slow.enqueue(str(path), 0.3, tag=str(i)).id for i in range(40)]
    consumer = start_consumer(HUEY_WORKERS=4)
    wait_until(lambda: count(path, "end") >= 6, message="some tasks to finish")

    began = time.monotonic()
    consumer.stop(signal.SIGINT, timeout=20)
    took = time.monotonic() - began

    assert consumer.proc.returncode == 0, "the consumer had to be killed"
    assert took < 10
    assert Task.objects.filter(pk__in=ids, status="running").count() == 0  # what it held is recorded or given back
    start_consumer(HUEY_WORKERS=4)
    wait_until(lambda: statuses(ids) == ["successful"] * 40, timeout=60, message="every task to succeed")
    assert all(count(path, "start", str(i)) == 1 for i in range(40))


def test_a_long_task_keeps_its_lease_while_its_consumer_lives(queue_url, start_consumer, tmp_path):
    from durable import claim

    path = tmp_path / "marks"
    result = durable_tasks.slow.enqueue(str(path), 5, tag="long")
    start_consumer(DURABLE_LEASE_SECONDS=3)  # renewed every second
    wait_until(lambda: count(path, "start") == 1, message="the task to start")

    taken = []
    while count(path, "end") == 0:
        taken += claim.LEASES.sweep()  # another consumer's sweeper, looking all the time
        time.sleep(0.1)

    wait_until(lambda: Task.objects.get(pk=result.id).status == "successful", message="the task to succeed")
    assert taken == [] and count(path, "start") == 1
    assert Task.objects.get(pk=result.id).attempts == 1


def test_a_task_cut_off_by_the_shutdown_timeout_is_given_back_at_exit(queue_url, start_consumer, tmp_path):
    path = tmp_path / "marks"
    result = durable_tasks.slow.enqueue(str(path), 30, tag="cut")
    consumer = start_consumer(HUEY_SHUTDOWN_TIMEOUT=1)
    wait_until(lambda: count(path, "start") == 1, message="the task to start")

    consumer.stop(signal.SIGINT, timeout=20)

    row = Task.objects.get(pk=result.id)
    assert row.status == "queued" and row.lease_token == ""  # another consumer may take it now, not in 60 s
    assert "its consumer stopped before it finished" in row.last_error
    assert list(TaskAttempt.objects.filter(task=row).values_list("outcome", flat=True)) == ["lost"]
