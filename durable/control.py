"""Snooze and cancel: a task asks to run again later without spending an attempt; an operator stops a task.

``raise durable.Snooze(30)`` inside a task ends the attempt as "snoozed": the task is queued again, due in
30 s, with its attempt uncounted (``max_attempts`` is not spent).

``durable.cancel(result_id)``: a queued task ends cancelled and never runs. A running one gets a
``CancelRequest`` row; a thread in the consumer running it (``Watcher``, asking every half second while
it runs tasks, and not at all while it runs none) raises ``TaskCancelled`` in the task's thread, the same
in-thread stop as a time limit with the same limits (docs/tasks.md: a task blocked in one long C call stops
when that call returns; a task that catches ``BaseException`` can swallow it). The attempt is recorded
"cancelled" and the task ends cancelled, not retried.
"""

import logging
import threading
import time
import traceback
from datetime import timedelta

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from durable import lifeline, sql
from durable.compat import TaskResultDoesNotExist
from durable.models import LEASES, CancelRequest, TaskAttempt, flow_member_ended
from durable.models import Task as TaskRow
from durable.monitor import MONITOR, absorb

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often a consumer running tasks asks whether one of them is to be cancelled


class Snooze(Exception):  # noqa: N818 - the name is the API (issue 17)
    """Raise inside a task: end this attempt, uncounted, and run the task again in ``seconds``."""

    def __init__(self, seconds):
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 366 * 86400:
            raise ValueError(f"Snooze takes a number of seconds from 0 to a year, not {seconds!r}")
        super().__init__(f"snoozed for {seconds:g} s")
        self.seconds = seconds


class TaskCancelled(BaseException):  # noqa: N818 - what happened; a BaseException, as TimeLimitExceeded
    """Raised inside a running task's thread when ``durable.cancel`` asked to stop it."""


def cancel(result_id):
    """Cancel the task ``result_id``: a queued one never runs; a running one is stopped within a second or two.

    Returns True if the task was queued or running (it ends cancelled), False if it had already finished.
    ``TaskResultDoesNotExist`` for an id that names no task.
    """
    try:
        pk = int(result_id)
    except (TypeError, ValueError):
        pk = 0
    if not 0 < pk < 2**63:  # past a database integer: no such task, not an overflow
        raise TaskResultDoesNotExist(f"no task with id {result_id!r}")
    with transaction.atomic():
        queued, running = cancel_ids([pk])
        if not (queued or running) and not TaskRow.objects.filter(pk=pk).exists():
            raise TaskResultDoesNotExist(f"no task with id {result_id!r}")
    if queued:
        logger.warning("task %s cancelled while queued", pk)
    elif running:
        logger.warning("task %s: cancel asked while it runs; its consumer stops it", pk)
    return bool(queued or running)


def cancel_ids(ids):
    """The one cancel (``cancel``, and ``durable.bulk`` a chunk at a time): the queued (or waiting) tasks of
    ``ids`` end cancelled, the running ones get a ``CancelRequest``. Returns (how many ended, running ids)."""
    with transaction.atomic():
        queued = TaskRow.objects.filter(pk__in=ids, status__in=[TaskRow.Status.QUEUED, TaskRow.Status.WAITING]).update(
            status=TaskRow.Status.CANCELLED, finished_at=timezone.now()
        )
        running = list(TaskRow.objects.filter(pk__in=ids, status=TaskRow.Status.RUNNING).values_list("pk", flat=True))
        CancelRequest.objects.bulk_create([CancelRequest(task_id=pk) for pk in running], ignore_conflicts=True)
    return queued, running


def settle():
    """Every sweep: tasks asked to cancel that are no longer running end cancelled; spent requests go."""
    asked = CancelRequest.objects.values("task_id")
    cancelled = TaskRow.objects.filter(pk__in=asked, status=TaskRow.Status.QUEUED).update(
        status=TaskRow.Status.CANCELLED, finished_at=timezone.now()
    )
    CancelRequest.objects.exclude(task__status=TaskRow.Status.RUNNING).delete()
    return cancelled


lifeline.settle_with(settle)  # at each sweep: tasks asked to cancel, taken back from a dead consumer, end cancelled


# --- in the consumer: stop a running task whose cancel was asked ----------------------------------


class Watcher:
    """One thread per consumer process that, while tasks run, asks every ``POLL_SECONDS`` which are to stop."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = {}  # task id -> thread ident
        self._fired = set()
        self._busy = threading.Event()
        self._thread = None

    def enter(self, pk):
        with self._lock:
            self._running[pk] = threading.get_ident()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="durable-cancel", daemon=True)
                self._thread.start()
        self._busy.set()

    def leave(self, pk):
        """The task ended; True if a cancel was fired at it (it may still be on its way to the thread)."""
        with self._lock:
            self._running.pop(pk, None)
            fired = pk in self._fired
            self._fired.discard(pk)
        return fired

    def _run(self):
        while True:
            with self._lock:
                pks = list(self._running)
            if not pks:
                connections.close_all()  # this thread's: none held while no task runs
                self._busy.wait()
                self._busy.clear()
                continue
            try:
                self._fire(set(CancelRequest.objects.filter(task_id__in=pks).values_list("task_id", flat=True)))
            except Exception:  # noqa: BLE001 - a locked or lost database: ask again at the next poll
                logger.exception("could not read cancel requests")
                connections.close_all()
            time.sleep(POLL_SECONDS)

    def _fire(self, asked):
        import ctypes

        with self._lock:
            for pk in asked & set(self._running) - self._fired:
                self._fired.add(pk)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._running[pk]), ctypes.py_object(TaskCancelled)
                )


WATCHER = Watcher()


def call(row, run, *args):
    """Hook around one attempt (``durable.executor.run_one``): ``run(*args)`` -> ``(value, error, traceback)``,
    stoppable by ``durable.cancel`` while it runs."""
    value, error, trace = None, None, ""
    try:
        WATCHER.enter(row.pk)
        value, error, trace = run(*args)
    except TaskCancelled:  # delivered outside the task's own frame, in the attempt's bookkeeping
        MONITOR.unwatch()
        value, error, trace = None, TaskCancelled(), traceback.format_exc()
    while True:  # the watcher fires once per task: a second pass completes
        try:
            if WATCHER.leave(row.pk) and not isinstance(error, TaskCancelled):
                absorb(TaskCancelled)  # fired as the attempt ended on its own
            return value, error, trace
        except TaskCancelled:
            continue


def record(row, error, trace):
    """Hook (``durable.executor.run_one``): record an attempt that snoozed or was cancelled; False for other errors.

    The executor hands a snoozed task's delay to the dispatcher, which schedules its wake-up (``retry_in``)."""
    now = timezone.now()
    if isinstance(error, Snooze):
        outcome, text = TaskAttempt.Outcome.SNOOZED, str(error)
        values = {
            "status": TaskRow.Status.QUEUED,
            "due_at": now + timedelta(seconds=error.seconds),
            "attempts": F("attempts") - 1,
            "last_attempted_at": row.last_attempted_at,
        }
    elif isinstance(error, TaskCancelled):
        outcome, text = TaskAttempt.Outcome.CANCELLED, "TaskCancelled: cancelled while running (durable.cancel)"
        values = {
            "status": TaskRow.Status.CANCELLED,
            "finished_at": now,
            "worker_ids": row.worker_ids,
            "last_attempted_at": row.last_attempted_at,
            "last_error": text,
            "traceback": trace,
        }
    else:
        return False

    with sql.serialized(TaskRow), transaction.atomic():
        written = LEASES.finish(row, **values)
        if written:
            TaskAttempt.objects.create(
                task_id=row.pk,
                number=row.attempts,
                started_at=row.last_attempted_at,
                finished_at=now,
                worker_id=row.worker_ids[-1],
                outcome=outcome,
                error_class=f"{TaskCancelled.__module__}.TaskCancelled" if outcome == "cancelled" else "",
                error=text,
                traceback=trace if outcome == "cancelled" else "",
            )
        CancelRequest.objects.filter(task_id=row.pk).delete()
        if written and row.flow_id and outcome == TaskAttempt.Outcome.CANCELLED:
            flow_member_ended(row, TaskRow.Status.CANCELLED)  # the chain fails, the batch counts it
    if written and outcome == TaskAttempt.Outcome.SNOOZED:
        logger.info("task %s %s snoozed for %g s (attempt uncounted)", row.pk, row.name, error.seconds)
    elif written:
        logger.warning("task %s %s cancelled while running (attempt %s)", row.pk, row.name, row.attempts)
    return True
