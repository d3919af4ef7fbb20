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
