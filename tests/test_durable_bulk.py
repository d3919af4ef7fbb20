"""durable.bulk: cancel and retry one task or all matching a filter, in chunks; durable.retry."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import durable
from durable import bulk
from durable.compat import TaskResultDoesNotExist
from durable.models import CancelRequest, Task
from tests import durable_tasks

pytestmark = pytest.mark.django_db


def enqueue(n, status="queued", **values):
    ids = [int(durable_tasks.add.enqueue(i, 1).id) for i in range(n)]
    Task.objects.filter(pk__in=ids).update(status=status, **values)
    return ids


def test_cancel_matching_cancels_queued_asks_running_and_skips_finished():
    queued, running, done = enqueue(3), enqueue(2, "running"), enqueue(1, "successful")

    outcome = bulk.cancel_matching(Task.objects.all(), size=2)

    assert (outcome.done, outcome.stopping, outcome.skipped) == (3, 2, 1)
    assert set(Task.objects.filter(pk__in=queued).values_list("status", flat=True)) == {"cancelled"}
    assert set(CancelRequest.objects.values_list("task_id", flat=True)) == set(running)
    assert Task.objects.get(pk=done[0]).status == "successful"
    assert outcome.message() == (
        "5 task(s) cancelled (2 running: their consumers stop them within seconds); 1 could not be (already finished)."
    )


def test_retry_queues_failed_and_cancelled_with_attempts_anew_and_clears_spent_cancel_requests():
    failed, cancelled, queued = enqueue(2, "failed", attempts=3), enqueue(1, "cancelled"), enqueue(1)
    CancelRequest.objects.create(task_id=cancelled[0])  # left by a cancel whose task then ended

    outcome = bulk.retry_matching(Task.objects.all())

    assert (outcome.done, outcome.skipped) == (3, 1)
    rows = Task.objects.filter(pk__in=failed + cancelled)
    assert set(rows.values_list("status", "attempts")) == {("queued", 0)}
    assert rows.filter(finished_at__isnull=False).count() == 0
    assert not CancelRequest.objects.exists()
    assert Task.objects.get(pk=queued[0]).status == "queued"


def test_retry_skips_a_task_whose_unique_key_is_taken_and_a_chains_step():
    first = durable_tasks.unique.enqueue("k")
    Task.objects.filter(pk=first.id).update(status="failed")
    durable_tasks.unique.enqueue("k")  # holds the key now
    flow = durable.chain(durable.call(durable_tasks.add, 1, 2), durable.call(durable_tasks.add, 3)).enqueue()
    Task.objects.filter(flow_id=flow.id).update(status="failed")

    assert durable.retry(first.id) is False
    outcome = bulk.retry_matching(Task.objects.filter(status="failed"))
    assert (outcome.done, outcome.skipped) == (0, 3)


def test_durable_retry_and_unknown_ids():
    (pk,) = enqueue(1, "failed")
    assert durable.retry(pk) is True
    assert durable.retry(pk) is False  # queued now
    for bad in (10**9, "x", None, 2**70):
        with pytest.raises(TaskResultDoesNotExist):
            durable.retry(bad)


def test_a_large_match_is_walked_in_chunks_with_a_few_statements_each():
    enqueue(250)
    with CaptureQueriesContext(connection) as queries:
        outcome = bulk.cancel_matching(Task.objects.filter(status="queued"), size=100)
    assert outcome.done == 250
    # 3 chunks (+ the empty read that ends the walk): read ids, update, read running, savepoints: not one per row
    assert len(queries) < 30


def marks(path):
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_the_admin_bulk_cancel_stops_a_running_task_on_a_real_consumer(queue_url, start_consumer, tmp_path, client):
    from django.contrib.auth.models import User

    from testing.plugin import wait_until

    path = tmp_path / "marks"
    running = durable_tasks.slow.enqueue(str(path), 60, tag="long")
    consumer = start_consumer(HUEY_WORKERS=1)
    wait_until(lambda: marks(path), message="the task to start")
    queued = durable_tasks.add.enqueue(1, 2)  # behind it on the one worker: cancelled before it runs
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    form = {"action": "cancel", "index": 0, "select_across": 1, "_selected_action": [running.id]}
    confirm = client.post("/admin/durable/task/?status__exact=running", form).content.decode()
    assert "Cancel 1 task matching: status=running?" in confirm
    # "Yes" on the change list with no filter and "select all": every task, the queued one behind it too
    page = client.post("/admin/durable/task/", {**form, "post": "yes"}, follow=True).content.decode()
    assert "2 task(s) cancelled (1 running: their consumers stop them within seconds)." in page

    wait_until(lambda: Task.objects.get(pk=running.id).status == "cancelled", timeout=10, message="the stop")
    row = Task.objects.get(pk=running.id)
    assert row.attempts == 1 and "cancelled while running" in row.last_error
    assert not any(line.startswith("end") for line in marks(path))
    assert Task.objects.get(pk=queued.id).status == "cancelled"
    assert consumer.proc.poll() is None
