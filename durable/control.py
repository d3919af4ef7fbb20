"""Snooze and cancel (docs/flows.md): a task asks to run again later without spending an attempt; an operator stops
a task. ``durable.cancel`` ends a queued task at once; a running one gets a ``CancelRequest`` row, and the monitor
thread of the consumer running it (a duty here, polling only while tasks run) raises ``TaskCancelled`` in the task's
thread, the same in-thread stop as a time limit (``durable.monitor``). Both are recorded by ``Task.mark_snoozed`` /
``mark_cancelled``.
"""

import logging
import threading
import traceback

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from durable import lifeline
from durable.compat import TaskResultDoesNotExist
from durable.models import CancelRequest, flow_member_ended
from durable.models import Task as TaskRow
from durable.monitor import MONITOR, absorb, interrupt

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often a consumer running tasks asks whether one of them is to be cancelled
IDLE_SECONDS = 3600.0  # while it runs none: not at all (the next start asks for the duty again)


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
    pk = task_pk(result_id)
    with transaction.atomic():
        queued, running = cancel_ids([pk])
        if not (queued or running) and not TaskRow.objects.filter(pk=pk).exists():
            raise TaskResultDoesNotExist(f"no task with id {result_id!r}")
    if queued:
        logger.warning("task %s cancelled while queued", pk)
    elif running:
        logger.warning("task %s: cancel asked while it runs; its consumer stops it", pk)
    return bool(queued or running)


def task_pk(result_id):
    """``result_id`` as a task's primary key; ``TaskResultDoesNotExist`` when it cannot name one."""
    try:
        pk = int(result_id)
    except (TypeError, ValueError):
        pk = 0
    if not 0 < pk < 2**63:  # past a database integer: no such task, not an overflow
        raise TaskResultDoesNotExist(f"no task with id {result_id!r}")
    return pk


def cancel_ids(ids):
    """The one cancel (``cancel``, and ``durable.bulk`` a chunk at a time): the queued (or waiting) tasks of
    ``ids`` end cancelled, the running ones get a ``CancelRequest``. Returns (how many ended, running ids)."""
    now = timezone.now()
    with transaction.atomic():
        queued = TaskRow.objects.filter(pk__in=ids, status__in=[TaskRow.Status.QUEUED, TaskRow.Status.WAITING]).update(
            status=TaskRow.Status.CANCELLED, finished_at=now
        )
        if queued:  # their chains and batches move on now, not at the next sweep: once per flow, its first member
            ended = TaskRow.objects.filter(pk__in=ids, status=TaskRow.Status.CANCELLED, finished_at=now)
            firsts = (
                ended.exclude(flow=None).values("flow_id").annotate(first=Min("id")).values_list("first", flat=True)
            )
            for row in TaskRow.objects.filter(pk__in=list(firsts)).only("pk", "flow_id"):
                flow_member_ended(row, TaskRow.Status.CANCELLED)
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


# --- in the consumer: the monitor thread stops a running task whose cancel was asked ------------------

_lock = threading.Lock()
_running = {}  # task id -> the ident of the thread running it
_fired = set()


def _stop_cancelled():
    """Monitor duty while tasks run: raise ``TaskCancelled`` in the thread of each one asked to cancel."""
    with _lock:
        pks = list(_running)
    if not pks:
        return IDLE_SECONDS  # the next task to start asks for the duty again
    asked = set(CancelRequest.objects.filter(task_id__in=pks).values_list("task_id", flat=True))
    with _lock:
        for pk in asked & set(_running) - _fired:
            _fired.add(pk)
            interrupt(_running[pk], TaskCancelled)
    return POLL_SECONDS


def _enter(pk):
    with _lock:
        idle = not _running
        _running[pk] = threading.get_ident()
    if idle:
        MONITOR.add_duty("cancel requests", _stop_cancelled, first_in=POLL_SECONDS)


def _leave(pk):
    """The task ended; True if a cancel was fired at it (it may still be on its way to the thread)."""
    with _lock:
        _running.pop(pk, None)
        fired = pk in _fired
        _fired.discard(pk)
    return fired


def call(row, run, *args):
    """Hook around one attempt (``durable.executor.run_one``): ``run(*args)`` -> ``(value, error, traceback)``,
    stoppable by ``durable.cancel`` while it runs."""
    value, error, trace = None, None, ""
    try:
        _enter(row.pk)
        value, error, trace = run(*args)
    except TaskCancelled:  # delivered outside the task's own frame, in the attempt's bookkeeping
        MONITOR.unwatch()
        value, error, trace = None, TaskCancelled(), traceback.format_exc()
    while True:  # the monitor fires once per task: a second pass completes
        try:
            if _leave(row.pk) and not isinstance(error, TaskCancelled):
                absorb(TaskCancelled)  # fired as the attempt ended on its own
            break
        except TaskCancelled:
            continue
    if isinstance(error, TaskCancelled):
        error = TaskCancelled("cancelled while running (durable.cancel)")
    return value, error, trace
