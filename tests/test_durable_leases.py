"""The one lease mechanism on its own: fenced outcomes of one row and of many rows in one UPDATE."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from durable.leases import Leases
from durable.models import Task

pytestmark = pytest.mark.django_db


def leases():
    return Leases(Task, Task.STATES, seconds=60, max_attempts=3, order_by=("due_at", "id"))


def queue(n):
    Task.objects.bulk_create(Task(name=f"tests.durable_tasks.add{i}") for i in range(n))


def test_it_finishes_many_held_rows_in_one_update():
    queue(5)
    lease = leases()
    rows = lease.claim(limit=5)

    with CaptureQueriesContext(connection) as captured:
        written = lease.finish_many(rows[:4], status="successful", last_error="")

    assert written == 4
    updates = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1 and " IN (" in updates[0] and "lease_token" in updates[0]
    assert sorted(Task.objects.values_list("status", flat=True)) == ["running"] + ["successful"] * 4
    assert lease.held_tokens() == [rows[0].lease_token]  # the fifth row is still held
    assert Task.objects.filter(status="successful", lease_token="", lease_expires_at=None).count() == 4


def test_a_row_whose_lease_was_lost_is_left_alone_by_finish_many():
    queue(3)
    lease = leases()
    rows = lease.claim(limit=3)
    Task.objects.filter(pk=rows[0].pk).update(lease_token="another holder's")

    assert lease.finish_many(rows, status="successful") == 2
    assert Task.objects.get(pk=rows[0].pk).status == "running"
    assert lease.held_tokens() == []


def test_finish_takes_expressions_and_stays_fenced():
    queue(1)
    lease = leases()
    [row] = lease.claim()

    assert lease.finish(row, status="cancelled", attempts=F("attempts") - 1)
    stored = Task.objects.get()
    assert stored.status == "cancelled" and stored.attempts == 0 and stored.lease_token == ""
    assert not lease.finish(row, status="failed", attempts=F("attempts") - 1)  # no longer held
    assert Task.objects.get().status == "cancelled"


def test_a_claim_takes_no_more_than_its_limit():
    queue(5)

    assert len(leases().claim(limit=2)) == 2
    assert Task.objects.filter(status="running").count() == 2


def test_a_claim_returns_the_rows_it_took_in_claim_order_without_reading_them_back():
    lease = Leases(Task, Task.STATES, seconds=60, max_attempts=3, order_by=("-priority", "due_at", "id"))
    now = timezone.now()
    due = {"a": (0, 1), "b": (10, 0), "c": (0, 2), "d": (10, 3)}  # name: (priority, seconds ago)
    Task.objects.bulk_create(Task(name=n, priority=p, due_at=now - timedelta(seconds=s)) for n, (p, s) in due.items())

    with CaptureQueriesContext(connection) as captured:
        rows = lease.claim(limit=4)

    assert [row.name for row in rows] == ["d", "b", "c", "a"]  # the UPDATE returns them in its own order
    assert {row.status for row in rows} == {"running"} and len({row.lease_token for row in rows}) == 1
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].startswith(("SELECT", "UPDATE"))]
    assert statements[-1].startswith("UPDATE") and " RETURNING " in statements[-1]  # nothing read after it


def test_finish_each_writes_each_row_its_own_values_and_leaves_a_lost_one_alone():
    queue(3)
    lease = leases()
    rows = lease.claim(limit=3)
    Task.objects.filter(pk=rows[1].pk).update(lease_token="taken-by-another")  # swept and claimed elsewhere

    written = lease.finish_each([(row, {"status": "successful", "return_value": row.pk}) for row in rows])

    assert [r.pk for r in written] == [rows[0].pk, rows[2].pk]
    assert dict(Task.objects.filter(status="successful").values_list("pk", "return_value")) == {
        rows[0].pk: rows[0].pk,
        rows[2].pk: rows[2].pk,
    }
    assert Task.objects.get(pk=rows[1].pk).status == "running"  # the newer holder's row, untouched
    assert lease.held_tokens() == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL claims by a list of ids (docs/scaling.md)")
@pytest.mark.parametrize("kind", ["task", "outbox"])
def test_a_claim_on_sqlite_writes_the_rows_it_picked_by_id_however_long_the_backlog(kind):
    # With a status test beside the ids, SQLite walked every queued row by its status index: 6.9 ms a claim at
    # 100,000 queued e-mails against 0.7 ms at 100. The plan says which way it goes.
    from notifications import delivery
    from notifications.models import Message

    if kind == "task":
        queue(50)
        claim = leases().claim
    else:
        Message.objects.bulk_create(Message(from_email="f@x", recipients=["a@x"], raw=b"x") for _ in range(50))
        claim = delivery.claim
    with CaptureQueriesContext(connection) as captured:
        assert len(claim(limit=5)) == 5
    [update] = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE") and "IN (SELECT" in q["sql"]
    ]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + update)
        outer = cursor.fetchall()[0][-1]  # how the UPDATE reads the rows it writes

    assert "INTEGER PRIMARY KEY" in outer, outer
