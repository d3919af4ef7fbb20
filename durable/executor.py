"""Running one task: call it in this worker's thread under its time limit, and record the outcome on its row.

The claim counted the attempt; the outcome is one fenced write plus one ``TaskAttempt`` row
(``Task.mark_succeeded`` / ``mark_retry`` / ``mark_failed``). What to do after a failure is
``durable.backoff``'s; the time limit is enforced by the monitor thread (``durable.monitor``).
"""

import logging
import time
import traceback

from django.utils import timezone
from django.utils.module_loading import import_string

from durable import backoff, control
from durable.compat import Task, TaskContext, TaskResult, TaskResultStatus, normalize_json
from durable.exceptions import TaskNotFound, TimeLimitExceeded
from durable.leases import worker_id
from durable.models import Task as TaskRow
from durable.models import error_text
from durable.monitor import MONITOR, absorb
from durable.options import options_of

logger = logging.getLogger(__name__)


def resolve(name):
    """The standard ``Task`` at dotted path ``name``; ``TaskNotFound`` if the code no longer has it."""
    try:
        obj = import_string(name)
    except ImportError as exc:
        raise TaskNotFound(f"task {name} no longer exists in the code ({exc})") from None
    if not isinstance(obj, Task):
        raise TaskNotFound(f"{name} is not a task (no @task() on it?)")
    return obj


def run_one(row, noted=None, succeeded=None):
    """One attempt at ``row`` (held by this process, its attempt counted by the claim): call it, record the outcome.

    Returns the seconds until its retry is due (None: no retry). ``noted(name, seconds)`` hears how long it ran.
    ``succeeded``: a list that takes ``(row, value, ended_at)`` of a success instead of recording it now (a
    claimed batch records its successes together, ``record_succeeded``).
    """
    row.worker_ids = [*row.worker_ids, worker_id()]
    row.last_attempted_at = timezone.now()  # the claim set started_at (first attempt) already
    try:
        task = resolve(row.name)
    except TaskNotFound as exc:
        row.mark_failed(exc)
        logger.error("task %s %s failed: %s", row.pk, row.name, exc)
        return None
    opts = options_of(task)
    began = time.monotonic()
    value, error, trace = control.call(row, _call, task, row, opts.time_limit)  # durable.cancel may stop it
    took = time.monotonic() - began
    if noted is not None:
        noted(row.name, took)
    tries = f"attempt {row.attempts}/{row.max_attempts}"
    if isinstance(error, control.Snooze):  # run again later, this attempt uncounted: the dispatcher wakes it then
        if row.mark_snoozed(error, backoff.due(error.seconds)):
            logger.info("task %s %s snoozed for %g s (attempt uncounted)", row.pk, row.name, error.seconds)
        return error.seconds
    if isinstance(error, control.TaskCancelled):
        if row.mark_cancelled(error, trace):
            logger.warning("task %s %s cancelled while running (attempt %s)", row.pk, row.name, row.attempts)
        return None
    if error is None and succeeded is not None:
        succeeded.append((row, value, timezone.now()))
        return None
    if error is None:
        if row.mark_succeeded(value):
            logger.info("task %s %s succeeded in %.2f s (%s)", row.pk, row.name, took, tries)
        return None
    delay = backoff.delay(row, error, opts)
    if delay is None:
        if row.mark_failed(error, trace):
            logger.error(
                "task %s %s failed in %.2f s (%s), giving up: %s", row.pk, row.name, took, tries, error_text(error)
            )
        return None
    if row.mark_retry(error, trace, backoff.due(delay)):
        logger.warning(
            "task %s %s failed in %.2f s (%s), retry in %.0f s: %s",
            row.pk,
            row.name,
            took,
            tries,
            delay,
            error_text(error),
        )
        return delay
    return None


def record_succeeded(done):
    """Record the successes ``run_one`` set aside (``[(row, value, ended_at)]``) in one transaction; one log line."""
    if not done:
        return
    written = TaskRow.record_succeeded(done)
    if written:
        names = ", ".join(sorted({row.name for row, _, _ in done}))
        ids = ", ".join(str(a.task_id) for a in written)
        logger.info("tasks %s (%s) succeeded (%s of a claimed batch)", ids, names, len(written))
    done.clear()


def _call(task, row, limit):
    """Call the task in this thread under its time ``limit`` (seconds or None): ``(value, error, traceback)``."""
    try:
        if limit:
            MONITOR.watch(limit)
        try:
            if task.takes_context:
                value = task.call(TaskContext(task_result=_running_result(task, row)), *row.args, **row.kwargs)
            else:
                value = task.call(*row.args, **row.kwargs)
            value = normalize_json(value)
        except TimeLimitExceeded:
            if limit:
                MONITOR.unwatch()
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure of a task is recorded on its row
            if limit and MONITOR.unwatch():
                absorb(TimeLimitExceeded)
            return None, exc, traceback.format_exc()
        if limit and MONITOR.unwatch():
            absorb(TimeLimitExceeded)
        return value, None, ""
    except TimeLimitExceeded:
        exc = TimeLimitExceeded(f"time limit of {limit:g} s exceeded")
        return None, exc, traceback.format_exc()


def _running_result(task, row):
    return TaskResult(
        task=task,
        id=str(row.pk),
        status=TaskResultStatus.RUNNING,
        enqueued_at=row.enqueued_at,
        started_at=row.started_at,
        finished_at=None,
        last_attempted_at=row.last_attempted_at,
        args=row.args,
        kwargs=row.kwargs,
        backend=row.backend,
        errors=[],
        worker_ids=list(row.worker_ids),
    )
