"""Per-key concurrency and rates (durable.limits): bad definitions, bad keys, and two real consumers."""

from collections import defaultdict

import pytest
from huey.contrib.djhuey import HUEY

from durable import claim, options
from durable.compat import InvalidTask
from durable.models import Task
from testing.plugin import wait_until
from tests import durable_tasks


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"group": "g", "rate": "fast"}, "rate must be starts per period"),
        ({"group": "g", "rate": "0/s"}, "rate must be"),
        ({"group": "g", "rate": "10/0s"}, "rate must be"),
        ({"group": "g", "rate": "10/d"}, "rate must be"),
        ({"group": "g", "rate": 10}, "rate must be"),
        ({"group": "g", "concurrency": 0}, "concurrency must be a whole number >= 1"),
        ({"group": "g", "concurrency": -1}, "concurrency must be"),
        ({"group": "g", "concurrency": "2"}, "concurrency must be"),
        ({"group": "g", "concurrency": True}, "concurrency must be"),
        ({"concurrency": 2}, "give group="),
        ({"rate": "10/s"}, "give group="),
        ({"group": 42}, "group must be"),
        ({"group": "g", "rate_key": lambda key: key}, "needs rate="),
        ({"group": "g", "rate": "1/s", "rate_key": "g"}, "rate_key is a callable"),
        ({"ordered": True}, "give group="),
        ({"group": "g", "ordered": True, "concurrency": 2}, "no concurrency above 1"),
    ],
)
def test_a_bad_limit_is_a_clear_error_when_the_task_is_defined(kwargs, says):
    with pytest.raises(ValueError, match=says):
        options(**kwargs)


def test_good_rates_parse():
    from durable.options import parse_rate

    assert [parse_rate(r) for r in ("10/s", "100/m", "5/10s", "1/h")] == [(10, 1), (100, 60), (5, 10), (1, 3600)]


@pytest.mark.django_db
def test_a_group_callable_that_raises_is_a_clear_error_at_enqueue_and_nothing_is_written():
    with pytest.raises(InvalidTask, match=r"group_raises: the group callable raised ZeroDivisionError"):
        durable_tasks.group_raises.enqueue("boom")
    # Arguments that do not fit the task are refused before its group callable is asked (issue 21.3).
    with pytest.raises(InvalidTask, match="missing a required argument: 'host'"):
        durable_tasks.per_host.enqueue("only-one-argument")
    assert not Task.objects.exists()

    durable_tasks.group_raises.enqueue("ada")
    assert Task.objects.get().group == "customer:ada"


@pytest.mark.django_db
def test_a_claim_takes_one_task_per_key_at_concurrency_one_and_gives_the_rest_back(tmp_path):
    path = str(tmp_path / "marks")
    for customer in ("a", "a", "a", "b"):
        durable_tasks.per_customer.enqueue(path, customer)

    rows = claim.claim(10)
    held = Task.objects.filter(status="queued").count(), Task.objects.filter(attempts__gt=0).count()
    claim.LEASES.release(rows)  # nothing left held by this process

    assert sorted(r.group for r in rows) == ["customer:a", "customer:b"]
    assert held == (2, 2)


@pytest.mark.django_db(transaction=True)
def test_two_claims_of_one_key_at_once_keep_one_row(tmp_path, monkeypatch):
    """Claim A checks its key and waits before committing while claim B checks the same key: B must see A's
    row (on PostgreSQL B waits for A's lock; on SQLite for the write lock), so one runs, not two. The race two
    consumers met on PostgreSQL when the check ran after the claim had committed."""
    import threading

    from django.db import connection

    from durable import limits

    for _ in range(2):
        durable_tasks.per_customer.enqueue(str(tmp_path / "m"), 1)
    real_over, a_checked, b_checked = limits.over, threading.Event(), threading.Event()

    def over(rows):
        result = real_over(rows)
        if threading.current_thread().name == "claim-a":
            a_checked.set()
            b_checked.wait(timeout=2)  # B checks now unless it waits for A (it must): then A commits first
        else:
            b_checked.set()
        return result

    monkeypatch.setattr(limits, "over", over)
    won = {}

    def claim_as(name):
        try:
            won[name] = claim.claim(1)
        finally:
            connection.close()

    a = threading.Thread(target=claim_as, args=("a",), name="claim-a")
    a.start()
    assert a_checked.wait(timeout=10)
    b = threading.Thread(target=claim_as, args=("b",), name="claim-b")
    b.start()
    a.join(timeout=30)
    b.join(timeout=30)
    assert len(won["a"]) == 1 and won["b"] == []
    assert Task.objects.filter(status=Task.Status.RUNNING).count() == 1
    assert Task.objects.filter(status=Task.Status.QUEUED, attempts=0).count() == 1  # given back untried


@pytest.mark.django_db(transaction=True)
def test_over_its_rate_a_task_waits_queued_with_a_wake_up_for_when_the_window_opens(queue_url, tmp_path):
    path = str(tmp_path / "marks")
    ids = [durable_tasks.per_host_a_minute.enqueue(path, "example.org").id for _ in range(6)]
    other = durable_tasks.add.enqueue(1, 2)

    ran = claim.run_due()

    assert ran == 5  # 4 calls to the host, and the task with no key
    assert Task.objects.get(pk=other.id).status == "successful"
    assert Task.objects.filter(pk__in=ids, status="queued", attempts=0).count() == 2
    assert any(t.eta for t in HUEY.pending() if t.name == "durable.run_due")  # woken when the window opens


def marks(path):
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_per_key_caps_and_rates_hold_across_two_consumers(queue_url, start_consumer, tmp_path):
    path = tmp_path / "marks"
    customers = [durable_tasks.per_customer.enqueue(str(path), c, 0.2).id for c in "aaaabbbbc"]
    hosts = [durable_tasks.per_host.enqueue(str(path), h).id for h in ["x"] * 10 + ["y"] * 3]
    free = [durable_tasks.noop.enqueue().id for _ in range(5)]
    start_consumer(HUEY_WORKERS=4)
    start_consumer(HUEY_WORKERS=4)

    every = customers + hosts + free
    wait_until(lambda: Task.objects.filter(pk__in=every, status="successful").count() == len(every), timeout=60)

    spans = defaultdict(list)
    for kind, key, at in marks(path):
        if kind in ("start", "end"):
            spans[key].append((kind, float(at)))
    for key, events in spans.items():  # one customer's runs never overlap: start, end, start, end...
        assert [kind for kind, _ in sorted(events, key=lambda e: e[1])] == ["start", "end"] * (len(events) // 2), key
    for host, n in (("host:x", 10), ("host:y", 3)):
        claimed = sorted(Task.objects.filter(group=host).values_list("claimed_at", flat=True))
        assert len(claimed) == n
        assert all((claimed[i + 4] - claimed[i]).total_seconds() >= 1 for i in range(len(claimed) - 4)), host
    # The tasks with no key did not wait behind those held back.
    last_free = max(Task.objects.filter(pk__in=free).values_list("finished_at", flat=True))
    assert last_free < max(Task.objects.filter(group="host:x").values_list("claimed_at", flat=True))


@pytest.mark.django_db
def test_a_rate_key_that_is_not_a_prefix_of_the_group_key_is_a_clear_error_at_enqueue():
    with pytest.raises(InvalidTask, match="rate_key must give a prefix of the group key 'endpoint:1'"):
        durable_tasks.bad_rate_key.enqueue(1)
    assert not Task.objects.exists()


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_one_at_a_time_per_endpoint_in_order_and_a_rate_per_host_hold_across_two_consumers(
    queue_url, start_consumer, tmp_path
):
    path = tmp_path / "marks"
    work = [("x", "e1", n) for n in range(5)] + [("x", "e2", n) for n in range(5)] + [("y", "e3", n) for n in range(3)]
    ids = [durable_tasks.per_endpoint.enqueue(str(path), h, e, n, fail=(e, n) == ("e1", 0)).id for h, e, n in work]
    start_consumer(HUEY_WORKERS=4)
    start_consumer(HUEY_WORKERS=4)

    wait_until(lambda: Task.objects.filter(pk__in=ids, status="successful").count() == len(ids), timeout=60)

    runs = defaultdict(list)
    for kind, key, n, at in marks(path):
        runs[key].append((float(at), kind, int(n)))
    for key, events in runs.items():
        events.sort()
        # Never two at once per endpoint: start, end, start, end...
        assert [kind for _, kind, _ in events] == ["start", "end"] * (len(events) // 2), key
        started = [n for _, kind, n in events if kind == "start"]
        assert started == sorted(started), key  # in enqueue order, the failed first one retried before the next
    assert [n for _, kind, n in sorted(runs["x/e1"]) if kind == "start"] == [0, 0, 1, 2, 3, 4]
    # The rate counts the host, both endpoints together: any 5 claims of host x span a second or more.
    claimed = sorted(Task.objects.filter(group__startswith="host:x/").values_list("claimed_at", flat=True))
    assert len(claimed) == 10
    assert all((claimed[i + 4] - claimed[i]).total_seconds() >= 1 for i in range(len(claimed) - 4))
