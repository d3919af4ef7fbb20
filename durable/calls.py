"""``call(task, *args, **kwargs)``: a task with its arguments, not yet enqueued; ``enqueue_many`` writes many at once.

::

    durable.enqueue_many([call(resize, photo_id) for photo_id in ids])

``enqueue_many`` checks every call first (a task, JSON arguments), then writes all the rows in the
caller's transaction with multi-row INSERTs (as many rows per statement as the database takes) and
wakes the consumers once, when that transaction commits. A bad call anywhere: ``InvalidTask``, nothing written.
"""

from dataclasses import dataclass, field

from django.db import connections, router, transaction
from django.db.models.base import ModelState

from durable import sql
from durable.backend import COLUMNS, column_values, json_arguments, wake_on_commit
from durable.compat import InvalidTask, Task
from durable.models import Task as TaskRow
from durable.options import options_of
from durable.validation import check_arguments

ARGS, KWARGS = (COLUMNS.index(TaskRow._meta.get_field(name)) for name in ("args", "kwargs"))


@dataclass(frozen=True)
class Call:
    """A standard ``Task`` and the arguments to enqueue it with."""

    task: Task
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def enqueue(self):
        """``task.enqueue(*args, **kwargs)``."""
        return self.task.enqueue(*self.args, **self.kwargs)

    def __str__(self):
        return f"call({self.task.module_path}, {len(self.args)} args, {len(self.kwargs)} kwargs)"


def call(task, *args, **kwargs):
    """``task`` (a standard ``Task``, as ``@task()`` made it) with ``args`` and ``kwargs``, to enqueue later."""
    if not isinstance(task, Task):
        raise InvalidTask(f"call() takes a task (a function under @task()), not {task!r}")
    return Call(task, args, kwargs)


def check_call(item, where="enqueue_many"):
    """``item`` if it is a ``call(...)``; ``InvalidTask`` saying where it was found otherwise."""
    if not isinstance(item, Call):
        raise InvalidTask(f"{where} takes call(task, *args, **kwargs) items, not {item!r}")
    return item


def enqueue_many(calls):
    """Enqueue every ``call(...)`` of ``calls`` in the caller's transaction; return their ``TaskResult``s in order.

    Rows with a unique key (``durable.options``) go one by one, as ``enqueue`` writes them; the others in
    multi-row INSERTs. One wake-up per transaction.
    """
    calls = [check_call(item) for item in calls]
    db = router.db_for_write(TaskRow)
    conn = connections[db]
    models = {}  # task -> (its row with no arguments, that row's column values ready for the database)
    rows = []
    for c in calls:  # everything checked before anything is written
        if c.task not in models:
            model = c.task.get_backend().row_for(c.task, c.args, c.kwargs)
            models[c.task] = (model, column_values(model, conn))
        else:
            check_arguments(c.task, c.args, c.kwargs)  # row_for checked the first call of each task
        rows.append(_row(c, models[c.task][0]))
    results = [None] * len(calls)
    with transaction.atomic(using=db):
        plain = [i for i, row in enumerate(rows) if not row.unique_key]
        params = [_params(rows[i], models[calls[i].task][1], conn) for i in plain]
        for i, pk in zip(plain, sql.insert_returning_pks(TaskRow, COLUMNS, params), strict=True):
            rows[i].pk = pk
            results[i] = calls[i].task.get_backend().to_result(rows[i], calls[i].task)
        for i, c in enumerate(calls):
            if results[i] is None:
                results[i] = c.enqueue()
        if calls:
            wake_on_commit(db)
    return results


def _row(c, model):
    """``model`` (the task's row without arguments) with the arguments of ``c``, checked as ``enqueue`` checks them."""
    args, kwargs = json_arguments(c.task, c.args, c.kwargs)
    row = TaskRow.__new__(TaskRow)  # a copy of ``model``'s fields: copy.copy pickles its way there, 4x the time
    row.__dict__.update(model.__dict__, _state=ModelState())
    row.args, row.kwargs, row.unique_key = args, kwargs, options_of(c.task).key_for(args, kwargs)
    return row


def _params(row, prepared, conn):
    """The row's column values for the INSERT: the task's, prepared once, with this row's arguments."""
    params = list(prepared)
    params[ARGS] = COLUMNS[ARGS].get_db_prep_save(row.args, conn)
    params[KWARGS] = COLUMNS[KWARGS].get_db_prep_save(row.kwargs, conn)
    return params
