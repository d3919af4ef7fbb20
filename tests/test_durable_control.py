"""durable.Snooze and durable.cancel: in the test's process, and a running task cancelled on a real consumer."""

from datetime import timedelta

import pytest
from django.utils import timezone

import durable
from durable import claim, lifeline
from durable.compat import TaskResultDoesNotExist, TaskResultStatus
from durable.models import CancelRequest, Task, TaskAttempt
from testing.plugin import wait_until
from tests import durable_tasks


def outcomes(pk):
    return list(TaskAttempt.objects.filter(task_id=pk).values_list("outcome", flat=True))


@pytest.mark.django_db
def test_a_snoozed_task_runs_again_later_without_spending_an_attempt(tmp_path):
    result = durable_tasks.snoozy.enqueue(str(tmp_path / "marks"), 30)  # max_attempts=1
    before = timezone.now()

    assert claim.run_due() == 1
    row = Task.objects.get(pk=result.id)
    assert row.status == "queued" and row.attempts == 0 and outcomes(row.pk) == ["snoozed"]
    assert 29 <= (row.due_at - before).total_seconds() <= 31
    assert durable_tasks.snoozy.get_result(result.id).errors == []  # a snooze is no error

    Task.objects.filter(pk=row.pk).update(due_at=timezone.now())
    assert claim.run_due() == 1
    result = durable_tasks.snoozy.get_result(result.id)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 1  # still its first attempt
    assert outcomes(row.pk) == ["snoozed", "successful"]


@pytest.mark.parametrize("seconds", [-1, "30", None, True, 10**9])
def test_snooze_refuses_a_time_that_is_not_seconds(seconds):
    with pytest.raises(ValueError, match="number of seconds"):
        durable.Snooze(seconds)


@pytest.mark.django_db
def test_a_queued_task_cancelled_never_runs():
    result = durable_tasks.add.enqueue(1, 2)

    assert durable.cancel(result.id) is True
    assert claim.run_due() == 0
    assert Task.objects.get(pk=result.id).status == "cancelled"
    assert durable_tasks.add.get_result(result.id).status == TaskResultStatus.FAILED  # the standard has no "cancelled"
    assert durable.cancel(result.id) is False  # finished: nothing to do


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["999999", "x", None])
def test_cancelling_no_task_says_so(bad):
    with pytest.raises(TaskResultDoesNotExist):
        durable.cancel(bad)


@pytest.mark.django_db(transaction=True)
@pytest.mark.consumer
def test_a_task_asked_to_cancel_whose_consumer_died_ends_cancelled_at_the_sweep(dead_task_consumer):
    result = durable_tasks.add.enqueue(1, 2)
    dead_task_consumer(expired=True)  # claimed it, then kill -9
    assert durable.cancel(result.id) is True  # running, as far as the row says

    lifeline.sweep()

    assert Task.objects.get(pk=result.id).status == "cancelled" and not CancelRequest.objects.exists()
    assert claim.run_due() == 0


def marks(path):
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_a_running_task_is_stopped_within_seconds_recorded_cancelled_and_not_retried(
    queue_url, start_consumer, tmp_path
):
    path = tmp_path / "marks"
    result = durable_tasks.slow.enqueue(str(path), 60, tag="long")  # three attempts allowed
    consumer = start_consumer(HUEY_WORKERS=2)
    wait_until(lambda: marks(path), message="the task to start")

    assert durable.cancel(result.id) is True
    wait_until(lambda: Task.objects.get(pk=result.id).status == "cancelled", timeout=10, message="the stop")

    row = Task.objects.get(pk=result.id)
    assert row.attempts == 1 and "cancelled while running" in row.last_error
    assert outcomes(row.pk) == ["cancelled"] and not CancelRequest.objects.exists()
    assert [e.exception_class_path for e in durable_tasks.slow.get_result(result.id).errors] == [
        "durable.control.TaskCancelled"
    ]
    after = durable_tasks.add.enqueue(2, 3)  # the worker thread lives on
    wait_until(lambda: Task.objects.get(pk=after.id).status == "successful", message="the next task")
    assert consumer.proc.poll() is None
    assert not any(line.startswith("end") for line in marks(path))
    assert (row.finished_at - row.last_attempted_at) < timedelta(seconds=30)


@pytest.mark.django_db(transaction=True)
def test_the_one_monitor_thread_stops_a_cancelled_task_in_this_process_and_no_other_thread_is_started(tmp_path):
    import threading

    path = tmp_path / "marks"
    result = durable_tasks.slow.enqueue(str(path), 60)
    worker = threading.Thread(target=claim.run_due, name="test-worker")
    worker.start()
    wait_until(lambda: marks(path), message="the task to start")

    assert durable.cancel(result.id) is True
    worker.join(timeout=10)

    assert not worker.is_alive() and Task.objects.get(pk=result.id).status == "cancelled"
    assert outcomes(result.id) == ["cancelled"] and not CancelRequest.objects.exists()
    assert [t.name for t in threading.enumerate() if t.name.startswith("durable")] == ["durable-monitor"]


@pytest.mark.django_db
def test_the_admin_cancel_action_stops_a_running_task_too(admin_client):
    queued = durable_tasks.noop.enqueue()
    running = durable_tasks.noop.enqueue()
    Task.objects.filter(pk=running.id).update(status="running")

    page = admin_client.post(
        "/admin/durable/task/",
        {"action": "cancel", "_selected_action": [queued.id, running.id], "post": "yes"},
        follow=True,
    )

    assert b"2 task(s) cancelled" in page.content
    assert Task.objects.get(pk=queued.id).status == "cancelled"
    assert CancelRequest.objects.filter(task_id=running.id).exists()


@pytest.mark.django_db
def test_the_admin_searches_tasks_by_group_key_and_by_text_in_their_arguments(admin_client, tmp_path):
    import re

    host = durable_tasks.per_host.enqueue(str(tmp_path / "m"), "api.example.org")
    other = durable_tasks.add.enqueue(987654, 1)

    def found(q):
        page = admin_client.get("/admin/durable/task/", {"q": q}).content.decode()
        return set(re.findall(r"/admin/durable/task/(\d+)/change/", page))

    assert found("host:api.example") == {host.id}
    assert found("987654") == {other.id}
