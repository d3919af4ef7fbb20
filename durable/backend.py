"""``DurableBackend``: Django's standard Tasks API on durable rows.

``enqueue`` INSERTs a ``durable.models.Task`` row on the caller's connection, inside the
caller's transaction (a rolled-back request leaves no task), and wakes a consumer after
commit with a Huey task that carries nothing but the wake-up. The row is the truth: a
wake-up lost with a queue that was down is made up by the sweeper (``durable.lifeline.sweep``).
"""

import functools
import json
import logging

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from durable import sql
from durable.claim import task_workers, wake
from durable.compat import (
    BaseTaskBackend,
    InvalidTask,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    normalize_json,
    task,
)
from durable.exceptions import TaskNotFound
from durable.executor import resolve
from durable.joining import current_batch_id
from durable.models import Task as TaskRow
from durable.options import options_of
from durable.validation import check_arguments
from durable.values import InsertValues

logger = logging.getLogger(__name__)

# The columns a new row has (every concrete field but the id, which the database gives).
COLUMNS = [f for f in TaskRow._meta.concrete_fields if not f.primary_key]
STATUS = {
    TaskRow.Status.QUEUED: TaskResultStatus.READY,
    TaskRow.Status.RUNNING: TaskResultStatus.RUNNING,
    TaskRow.Status.SUCCESSFUL: TaskResultStatus.SUCCESSFUL,
    TaskRow.Status.FAILED: TaskResultStatus.FAILED,
    TaskRow.Status.CANCELLED: TaskResultStatus.FAILED,  # the standard has no "cancelled"
    TaskRow.Status.WAITING: TaskResultStatus.READY,  # a chain's later step (issue 17)
}


class DurableBackend(BaseTaskBackend):
    """Tasks as rows: at-least-once, leased and fenced, retried as their ``durable.options`` say."""

    supports_defer = True
    supports_priority = True
    supports_get_result = True
    supports_async_task = False  # a coroutine task is refused at definition ("does not support async")

    def enqueue(self, task, args, kwargs):
        """Write the task's row in the caller's transaction; wake a consumer once it commits."""
        row = self.row_for(task, args, kwargs)
        db = router.db_for_write(TaskRow)
        if row.unique_key:
            existing = _insert_unique(row, db)
            if existing is not None:
                return self.to_result(existing, task)
        else:
            _insert(row, db)
        wake_on_commit(db)
        return self.to_result(row, task)

    def row_for(self, task, args, kwargs, leading=0):
        """The unsaved row of one enqueue of ``task``; ``InvalidTask`` for a bad task or arguments not JSON.

        ``leading``: positional arguments the worker adds first (1 for a chain step after the first).
        """
        self.validate_task(task)
        check_arguments(task, args, kwargs, leading)
        args, kwargs = json_arguments(task, args, kwargs)
        opts = options_of(task)
        now = timezone.now()
        return TaskRow(
            name=task.module_path,
            args=args,
            kwargs=kwargs,
            priority=task.priority,
            queue_name=task.queue_name,
            backend=self.alias,
            due_at=task.run_after or now,
            enqueued_at=now,
            max_attempts=opts.max_attempts or settings.DURABLE_MAX_ATTEMPTS,
            unique_key=opts.key_for(args, kwargs),
            group=_group_for(task, opts, args, kwargs),  # hook (issue 17): a key per enqueue
            flow_id=current_batch_id(),  # hook (issue 17): an enqueue inside `with batch()` joins it
        )

    def check(self, **kwargs):
        """Settings the durable mechanism needs (asked by the standard tasks system check)."""
        from django.core import checks

        if settings.DURABLE_LEASE_SECONDS < 3:
            yield checks.Error(
                f"DURABLE_LEASE_SECONDS={settings.DURABLE_LEASE_SECONDS} is too short",
                hint="Leases are renewed every third of it; use 3 or more (default 60).",
                id="durable.E001",
            )
        if settings.DURABLE_BATCH_SIZE < 1 or settings.DURABLE_MAX_ATTEMPTS < 1:
            yield checks.Error(
                "DURABLE_BATCH_SIZE and DURABLE_MAX_ATTEMPTS must be 1 or more",
                hint=f"They are {settings.DURABLE_BATCH_SIZE} and {settings.DURABLE_MAX_ATTEMPTS}.",
                id="durable.E002",
            )
        bad = {g: n for g, n in settings.DURABLE_GROUP_LIMITS.items() if n < 1}
        if bad:
            yield checks.Error(
                f"DURABLE_GROUP_LIMITS gives groups no room: {bad}",
                hint="Each group's running cap must be 1 or more (a group not listed gets 1).",
                id="durable.E003",
            )
        yield from _isolation_checks()

    def get_result(self, result_id):
        """The task's row as a standard ``TaskResult`` (every field filled); ``TaskResultDoesNotExist`` if none."""
        try:
            row = TaskRow.objects.get(pk=int(result_id))
        except (TypeError, ValueError, TaskRow.DoesNotExist):
            raise TaskResultDoesNotExist(f"no task with id {result_id!r}") from None
        return self.to_result(row)

    def to_result(self, row, task=None):
        """A ``TaskResult`` for ``row`` (``task``: the standard Task, when the caller has it)."""
        if task is None:
            task = task_of(row.name)
        errors = []
        if row.pk is not None and row.attempts:
            errors = [
                TaskError(exception_class_path=cls, traceback=tb)
                for cls, tb in row.attempt_log.exclude(error_class="").values_list("error_class", "traceback")
            ]
        result = TaskResult(
            task=task,
            id=str(row.pk),
            status=STATUS[row.status],
            enqueued_at=row.enqueued_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            last_attempted_at=row.last_attempted_at,
            args=row.args,
            kwargs=row.kwargs,
            backend=row.backend,
            errors=errors,
            worker_ids=_worker_ids(row),
        )
        if row.status == TaskRow.Status.SUCCESSFUL:
            object.__setattr__(result, "_return_value", row.return_value)
        return result


def json_arguments(task, args, kwargs):
    """``(args, kwargs)`` as the JSON the row stores; ``InvalidTask`` when they are not JSON."""
    try:
        args, kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
        json.dumps([args, kwargs], allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidTask(f"{task.module_path}: arguments must be JSON-serialisable ({exc})") from None
    return args, kwargs


def _group_for(task, opts, args, kwargs):
    try:
        return opts.group_for(args, kwargs)
    except InvalidTask as exc:
        raise InvalidTask(f"{task.module_path}: {exc}") from exc.__cause__


def _worker_ids(row):
    """Who ran each attempt, the one running now included (its holder is recorded on the row at the claim)."""
    if row.status == TaskRow.Status.RUNNING and row.claimed_by:
        return [*row.worker_ids, row.claimed_by]
    return list(row.worker_ids)


def _isolation_checks():
    """Warnings when durable tasks may take every worker of a consumer, so a long one holds up e-mail."""
    from django.core import checks

    consumer = settings.HUEY.get("consumer", {})
    workers = consumer.get("workers", 1)
    if workers - task_workers() < 1:
        yield checks.Warning(
            f"durable tasks may take every worker (HUEY_WORKERS={workers}, "
            f"DURABLE_RESERVED_WORKERS={settings.DURABLE_RESERVED_WORKERS}): a long task holds up e-mail",
            hint="Run 2 or more workers and keep DURABLE_RESERVED_WORKERS at 1 or more (docs/tasks.md).",
            id="durable.W001",
        )
    if consumer.get("worker_type", "thread") == "process":
        yield checks.Warning(
            "DURABLE_RESERVED_WORKERS counts the workers of one process: with HUEY_WORKER_TYPE=process "
            "durable tasks may take every worker, and a long task holds up e-mail",
            hint="Use thread workers (the default), or put every slow task in a group whose caps "
            "(DURABLE_GROUP_LIMITS) add up to fewer than HUEY_WORKERS.",
            id="durable.W002",
        )


def column_values(row, conn):
    """``row``'s values of ``COLUMNS`` as ``save(force_insert=True)`` sends them to ``conn``'s database."""
    return _VALUES.of(row, conn)


_VALUES = InsertValues(COLUMNS)


def _insert(row, db):
    """INSERT ``row`` as ``save(force_insert=True)`` would, with the statement's text made once (``durable.sql``)."""
    (row.pk,) = sql.insert_returning_pks(TaskRow, COLUMNS, [column_values(row, connections[db])])
    row._state.adding, row._state.db = False, db


def _insert_unique(row, db):
    """INSERT ``row`` unless a queued or running task has its unique key; return that task, else None."""
    for _ in range(3):
        try:
            with transaction.atomic(using=db):
                row.save(using=db, force_insert=True)
            return None
        except IntegrityError:
            existing = TaskRow.objects.using(db).filter(unique_key=row.unique_key, status__in=TaskRow.ACTIVE).first()
            if existing is not None:
                logger.info(
                    "task %s %s: already queued or running (unique key %r)", existing.pk, row.name, row.unique_key
                )
                return existing
            row.pk = None  # it finished between our INSERT and our look: try again
    raise IntegrityError(f"could not enqueue {row.name} with unique key {row.unique_key!r}")


def wake_on_commit(using):
    """Wake a consumer once the caller's transaction commits: one wake-up per transaction (``mysite.wakeups``)."""
    from huey.contrib.djhuey import HUEY

    coalesced = getattr(HUEY, "wake_on_commit", None)
    if coalesced is None:
        transaction.on_commit(wake, using=using)
    else:
        coalesced("durable", using=using)


def task_of(name):
    """The standard ``Task`` at dotted path ``name``, or a stand-in when it is gone (its result can still be read)."""
    try:
        return resolve(name)
    except TaskNotFound:
        return _missing()


def missing_task(*args, **kwargs):
    """Stands for a task whose code is gone, so its result can still be read."""
    raise LookupError("this task no longer exists in the code")


@functools.cache
def _missing():
    return task(missing_task)
