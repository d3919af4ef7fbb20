"""durable.call and durable.enqueue_many: bulk enqueue in few INSERTs, one wake-up per transaction, bad calls refused."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from huey.contrib.djhuey import HUEY

import durable
from durable import call
from durable.compat import InvalidTask, TaskResultStatus
from durable.models import Task
from tests import durable_tasks


def inserts(queries):
    return [q for q in queries.captured_queries if q["sql"].startswith("INSERT INTO")]


def wakeups():
    """Wake-ups queued for durable tasks: the site's one wake-up per transaction (mysite.wakeups) names them."""
    return sum(
        1 for t in HUEY.pending() if t.name == "durable.run_due" or (t.name == "wake" and "durable" in t.args[0])
    )


@pytest.mark.django_db
def test_enqueue_many_writes_ten_thousand_tasks_in_a_few_inserts(run_tasks):
    with CaptureQueriesContext(connection) as queries:
        results = durable.enqueue_many([call(durable_tasks.add, i, b=1) for i in range(10_000)])

    assert len(inserts(queries)) <= 10
    assert [r.status for r in results[:3]] == [TaskResultStatus.READY] * 3
    assert len({r.id for r in results}) == 10_000
    row = Task.objects.get(pk=results[1234].id)
    assert (row.name, row.args, row.kwargs) == ("tests.durable_tasks.add", [1234], {"b": 1})
    assert Task.objects.count() == 10_000


@pytest.mark.django_db
def test_tasks_enqueued_many_run_and_keep_their_order_and_options(run_tasks):
    results = durable.enqueue_many(
        [call(durable_tasks.add, 1, 2), call(durable_tasks.add.using(priority=5), 3, 4), call(durable_tasks.noop)]
    )

    assert Task.objects.get(pk=results[1].id).priority == 5
    assert run_tasks() == 3
    assert [durable_tasks.add.get_result(r.id).return_value for r in results[:2]] == [3, 7]


@pytest.mark.django_db
def test_a_unique_call_among_many_returns_the_task_already_queued():
    first = durable_tasks.unique.enqueue("a")

    results = durable.enqueue_many([call(durable_tasks.unique, "a"), call(durable_tasks.unique, "b")])

    assert results[0].id == first.id
    assert Task.objects.filter(name="tests.durable_tasks.unique").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "bad, says",
    [
        (durable_tasks.add, "takes call"),  # a task, not a call
        ("tests.durable_tasks.add", "takes call"),
        (lambda: call(durable_tasks.add, object(), b=1), "JSON"),
    ],
)
def test_a_bad_call_anywhere_writes_nothing(bad, says):
    item = bad() if callable(bad) and not hasattr(bad, "func") else bad
    with pytest.raises(InvalidTask, match=says):
        durable.enqueue_many([call(durable_tasks.noop), item, call(durable_tasks.noop)])
    assert not Task.objects.exists()


def test_call_refuses_what_is_not_a_task():
    with pytest.raises(InvalidTask, match=r"call\(\) takes a task"):
        call(durable_tasks.add.func, 1, 2)


@pytest.mark.django_db(transaction=True)
def test_many_enqueues_in_one_transaction_wake_the_consumers_once(queue_url):
    with transaction.atomic():
        for _ in range(20):
            durable_tasks.noop.enqueue()
        durable.enqueue_many([call(durable_tasks.noop) for _ in range(50)])
        assert wakeups() == 0  # not before the commit
    assert wakeups() == 1

    durable.enqueue_many([call(durable_tasks.noop) for _ in range(50)])  # its own transaction
    assert wakeups() == 1  # the first, still waiting, stands for it (mysite.wakeups)
    HUEY.storage.take_wakeup(["durable"])  # a consumer ran the first
    durable.enqueue_many([call(durable_tasks.noop) for _ in range(50)])
    assert wakeups() == 2


@pytest.mark.django_db(transaction=True)
def test_an_enqueue_in_a_rolled_back_savepoint_does_not_take_the_wake_up_with_it(queue_url):
    with transaction.atomic():
        try:
            with transaction.atomic():
                durable_tasks.noop.enqueue()
                raise RuntimeError("the savepoint rolls back")
        except RuntimeError:
            pass
        kept = durable_tasks.noop.enqueue()
    assert wakeups() == 1 and list(Task.objects.values_list("pk", flat=True)) == [int(kept.id)]
