"""A claim's statements made once per shape (``durable.sql.statement``): each call runs with its own values."""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.functional import lazy

from durable import sql
from durable.leases import Leases
from durable.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def queue(*due_in_hours):
    now = timezone.now()
    rows = [
        Task(name="tests.durable_tasks.add", args=[i, 1], due_at=now + timedelta(hours=h))
        for i, h in enumerate(due_in_hours)
    ]
    return [t.pk for t in Task.objects.bulk_create(rows)]


def due_before(now):
    return Task.objects.filter(due_at__lte=now).order_by("id").values_list("pk").query


def unused(**values):
    raise AssertionError("built again: the statement was not kept")


def test_a_kept_statement_runs_with_the_values_of_each_call():
    past, future = queue(-1, 1)
    now = timezone.now()

    first = sql.statement(connection, "due before", due_before, now=now)
    later = sql.statement(connection, "due before", unused, now=now)  # the same shape: not built again

    assert first.rows(connection, {"now": now}) == [(past,)]
    assert later.rows(connection, {"now": now + timedelta(hours=2)}) == [(past,), (future,)]
    assert later.rows(connection, {"now": now - timedelta(hours=2)}) == []


def test_a_value_made_from_a_slot_is_not_kept_and_the_query_is_built_at_each_call():
    (earlier,) = queue(-3)
    now = timezone.now()

    def two_hours_before(now):
        return Task.objects.filter(due_at__lte=now - timedelta(hours=2)).values_list("pk").query

    assert sql.statement(connection, "made from now", two_hours_before, now=now).rows(connection, {"now": now}) == [
        (earlier,)
    ]
    four_hours_back = now - timedelta(hours=4)
    assert (
        sql.statement(connection, "made from now", two_hours_before, now=four_hours_back).rows(
            connection, {"now": four_hours_back}
        )
        == []
    )
    with pytest.raises(AssertionError, match="built again"):
        sql.statement(connection, "made from now", unused, now=now)


def test_rows_read_through_a_kept_statement_are_what_the_orm_reads():
    queue(-1)
    Task.objects.update(worker_ids=["host:1"], return_value={"é": [1, 2]})

    def everything(token):
        return Task.objects.exclude(lease_token=token).query

    (read,) = sql.statement(connection, "all rows", everything, token="x").objects(connection, Task, {"token": "x"})
    (expected,) = Task.objects.all()
    assert {f.attname: getattr(read, f.attname) for f in Task._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in Task._meta.concrete_fields
    }
    assert read.due_at.tzinfo is not None and read.worker_ids == ["host:1"]


def test_a_claim_with_a_shape_builds_its_query_once_and_still_takes_each_row_once():
    leases = Leases(Task, Task.STATES, seconds=60, max_attempts=3)
    ids = queue(-1, -1, -1)
    built = []

    def where(due):
        built.append(due)
        return due.exclude(name="")

    taken = [[row.pk for row in leases.claim(where=where, shape="not nameless")] for _ in range(4)]

    assert taken == [[ids[0]], [ids[1]], [ids[2]], []]
    assert len(built) == 2  # twice at the first claim (to find where its values go), never again
    assert Task.objects.filter(status="running", attempts=1).count() == 3
    assert len(set(Task.objects.values_list("lease_token", flat=True))) == 3


def test_a_statement_kept_in_one_thread_runs_in_another_on_that_threads_connection():
    ids = queue(-1, -1)
    now = timezone.now()
    assert sql.statement(connection, "threads", due_before, now=now).rows(connection, {"now": now}) == [
        (i,) for i in ids
    ]
    seen = []

    def other():
        try:
            seen.extend(sql.statement(connection, "threads", due_before, now=now).rows(connection, {"now": now}))
        finally:
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=30)
    assert seen == [(i,) for i in ids]


def test_a_claim_among_named_rows_takes_those_each_time_from_one_kept_statement():
    leases = Leases(Task, Task.STATES, seconds=60, max_attempts=3)
    first, second, third = queue(-3, -2, -1)

    taken = [[r.pk for r in leases.claim(among=[pk], shape="named")] for pk in (third, first, third)]

    assert taken == [[third], [first], []]  # the third is held already
    assert [r.pk for r in leases.claim(limit=2, among=[second, third], shape="named")] == [second]


@pytest.mark.parametrize("part", ["year", "month", "day", "hour", "minute", "week_day"])
def test_a_part_of_a_slot_is_a_value_made_from_it_too(part):
    now = timezone.now()

    def of_this(now):
        lookup = {"week_day": now.isoweekday() % 7 + 1}.get(part, getattr(now, part, None))
        return Task.objects.filter(**{f"due_at__{part}": lookup}).values_list("pk").query

    sql.statement(connection, ("part", part), of_this, now=now)
    with pytest.raises(AssertionError, match="built again"):
        sql.statement(connection, ("part", part), unused, now=now)


@pytest.mark.parametrize(
    "values",
    [
        {},  # what enqueue() writes for a plain task
        {"status": Task.Status.RUNNING, "priority": -7, "unique_key": "k", "group": "g", "attempts": 2},
        {"claimed_at": timezone.now(), "lease_token": "t" * 32, "worker_ids": ["w1"], "return_value": None},
        {"name": lazy(lambda: "tests.durable_tasks.add", str)(), "max_attempts": True, "args": []},
    ],
    ids=["enqueued", "choices-and-numbers", "times-and-json", "lazy-text-and-a-bool"],
)
def test_an_inserted_rows_values_are_what_save_would_send(values):
    from durable.backend import COLUMNS, column_values

    now = timezone.now()
    row = Task(name="tests.durable_tasks.add", args=[1, 2], kwargs={"x": "é"}, due_at=now, enqueued_at=now)
    for name, value in values.items():
        setattr(row, name, value)
    expected = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in COLUMNS]
    got = column_values(row, connection)
    assert [comparable(v) for v in got] == [comparable(v) for v in expected]


def comparable(value):
    """A prepared value as its type and content (PostgreSQL's JSON wrapper, ``Jsonb``, compares by identity)."""
    return type(value), getattr(value, "obj", value)


def test_an_outbox_rows_values_are_what_save_would_send():
    from django.core.mail import EmailMessage

    from notifications.backend import _insert_sql, to_row

    row = to_row(EmailMessage("Grüße", "Body ✓", "Zoë <z@example.com>", ["to@example.com"], headers={"X-A": "b"}))
    _, values = _insert_sql(connection.alias)
    expected = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in values.fields]
    assert [comparable(v) for v in values.of(row, connection)] == [comparable(v) for v in expected]


def test_a_field_that_fills_itself_in_is_prepared_as_save_does():
    from django.db.models import DateTimeField

    from durable.values import InsertValues

    field = DateTimeField(auto_now_add=True)
    field.set_attributes_from_name("stamp")
    row = SimpleNamespace(stamp=None)

    (value,) = InsertValues([field]).of(row, connection)

    assert value is not None and row.stamp is not None  # filled in, as save() fills it
