"""The consumer side: claim due task rows, run them in the Huey worker thread, record each outcome fenced.

``run_due`` (the Huey wake-up, ``durable.tasks.run_due``) claims a batch of due rows with one
UPDATE and runs them one after another. A batch is for short tasks: once it has run for
DURABLE_BATCH_SECONDS, the rest is given back and another worker woken, so one slow task does
not hold others. Per task: one fenced UPDATE when it starts (attempt counted, worker id added)
and, in one transaction, one fenced UPDATE with its outcome plus one ``TaskAttempt`` INSERT.

One monitor thread per consumer process renews every held lease every third of
DURABLE_LEASE_SECONDS (one UPDATE) and enforces time limits: it raises ``TimeLimitExceeded``
inside the task's thread (``PyThreadState_SetAsyncExc``). The limit of that choice: the
exception is delivered when the thread next runs Python code, so a task blocked in one long
C call (a socket read without timeout, one long ``time.sleep``) is stopped when that call
returns; and a task that catches ``BaseException`` can swallow it (it is then recorded as
having run past its limit only if it fails).
"""

import atexit
import logging
import os
import threading
import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string
from huey.contrib.djhuey import HUEY

from durable import control, flows, limits, pause, sql
from durable.compat import Task, TaskContext, TaskResult, TaskResultStatus, normalize_json
from durable.exceptions import ConsumerLost, TaskNotFound, TimeLimitExceeded
from durable.leases import Leases, worker_id
from durable.models import Task as TaskRow
from durable.models import TaskAttempt
from durable.options import options_of

logger = logging.getLogger(__name__)


def stopping():
    """True once this consumer process was told to stop (SIGINT/SIGTERM): finish what you hold, claim nothing new."""
    check = getattr(HUEY, "stopping", None)
    return bool(check and check())


def _path(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


class TaskLeases(Leases):
    """Leases on task rows. A worker runs its batch in claim order, so of the rows a dead holder
    still held under one lease token, the first was running (its attempt is lost, and recorded)
    and the others never started (their attempt is uncounted): no write is needed per task start.
    """

    def __init__(self):
        super().__init__(
            TaskRow,
            TaskRow.STATES,
            seconds=None,
            max_attempts=F("max_attempts"),
            order_by=("-priority", "due_at", "id"),
        )

    @property
    def seconds(self):
        return settings.DURABLE_LEASE_SECONDS

    @seconds.setter
    def seconds(self, value):
        pass  # always the setting

    def claim_values(self, now):
        return {"started_at": Coalesce("started_at", Value(now)), "last_attempted_at": now}

    def release_values(self):
        # Untried: a row never run before has not started (expressions see the row before the release).
        return {"started_at": Case(When(attempts__lte=1, then=Value(None)), default=F("started_at"))}

    def take_back(self, queryset, why):
        rows = list(queryset.order_by(*self.order_by))
        seen = set()
        for row in rows:  # the first of each batch still held was the one running
            row.was_running = row.lease_token not in seen
            seen.add(row.lease_token)
        with sql.serialized(TaskRow), transaction.atomic():  # the outcome and its attempt row, together
            taken = super().take_back(rows, why)
            now = timezone.now()
            TaskAttempt.objects.bulk_create(
                TaskAttempt(
                    task_id=row.pk,
                    number=row.attempts,
                    started_at=row.last_attempted_at or now,
                    finished_at=now,
                    worker_id=row.claimed_by,
                    outcome=TaskAttempt.Outcome.FAILED if self.used_up(row) else TaskAttempt.Outcome.LOST,
                    error_class=_path(ConsumerLost),
                    error=why,
                )
                for row in taken
                if row.was_running
            )
        return taken

    def used_up(self, row):
        return row.was_running and row.attempts >= row.max_attempts

    def lost(self, row, why, used_up, now):
        if not row.was_running:
            return {"status": TaskRow.Status.QUEUED, "attempts": F("attempts") - 1, **self.release_values()}
        error = f"attempt {row.attempts} lost: {why} (held by {row.claimed_by})"
        values = {"worker_ids": [*row.worker_ids, row.claimed_by], "traceback": ""}
        if used_up:
            return {
                **values,
                "status": TaskRow.Status.FAILED,
                "finished_at": now,
                "last_error": f"{error}; gave up after {row.attempts} attempts",
            }
        return {**values, "status": TaskRow.Status.QUEUED, "last_error": error}  # due as it was: it goes first


LEASES = TaskLeases()
ATTEMPT_FIELDS = (
    "task",
    "number",
    "started_at",
    "finished_at",
    "worker_id",
    "outcome",
    "error_class",
    "error",
    "traceback",
)


# --- the monitor thread: lease renewal and time limits ----------------------------------------


class Monitor:
    """One thread per consumer process: renews held leases, and stops tasks past their time limit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._watched = {}  # thread ident -> deadline (monotonic)
        self._fired = set()
        self._changed = threading.Event()
        self._thread = None
        self._pid = None

    def ensure_running(self):
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="durable-monitor", daemon=True)
            self._thread.start()

    def watch(self, seconds):
        """Stop the calling thread (``TimeLimitExceeded``) once ``seconds`` have passed, unless ``unwatch``ed first."""
        with self._lock:
            self._watched[threading.get_ident()] = time.monotonic() + seconds
        self._changed.set()

    def unwatch(self):
        """Stop watching the calling thread; True if its time limit already fired."""
        ident = threading.get_ident()
        with self._lock:
            self._watched.pop(ident, None)
            fired = ident in self._fired
            self._fired.discard(ident)
        return fired

    def _fire_due(self):
        now = time.monotonic()
        with self._lock:
            for ident, deadline in list(self._watched.items()):
                if deadline <= now:
                    import ctypes  # here, not at start-up: ~0.4 MB a consumer whose tasks keep their limits never loads

                    del self._watched[ident]
                    self._fired.add(ident)
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(ident), ctypes.py_object(TimeLimitExceeded)
                    )
            return min(self._watched.values(), default=None)

    def _run(self):
        interval = max(LEASES.seconds / 3, 0.5)
        next_renew = time.monotonic() + interval
        while True:
            nearest = self._fire_due()
            now = time.monotonic()
            if now >= next_renew:
                next_renew = now + self._renew(interval)
            wait = next_renew - time.monotonic()
            if nearest is not None:
                wait = min(wait, nearest - time.monotonic())
            self._changed.wait(max(wait, 0.01))
            self._changed.clear()

    def _renew(self, interval):
        """Renew; returns the seconds to the next renewal (sooner after a failure)."""
        try:
            held = LEASES.held_tokens()
            if held:
                renewed = LEASES.renew()
                logger.debug("renewed %s task leases", renewed)
            return interval
        except Exception:  # noqa: BLE001 - a locked or lost database: try again soon, the lease still runs
            logger.exception("could not renew task leases; trying again in 1 s")
            return 1.0
        finally:
            connections.close_all()  # this thread's: one connect per renewal rather than one held idle


MONITOR = Monitor()


def _absorb_pending():
    """The time limit fired as the task ended: take the exception on its way here, not in the recording."""
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            pass
    except TimeLimitExceeded:
        pass


# --- running ------------------------------------------------------------------------------


def claim(limit):
    """Claim up to ``limit`` due rows, keeping every group key under its running cap and start rate.

    Hook (issue 17): the limits are ``durable.limits`` (per key, across consumers): rows over them go back
    untried, with a wake-up for when a rate has room. No consumer claims the tasks of a paused queue
    (``durable.pause``) or asked to cancel (``durable.control``). When every row claimed was over its limits,
    one more claim leaves their keys out, so the other due tasks still run.
    """
    for _ in range(2):
        rows = LEASES.claim(limit=limit, where=lambda qs: _claimable(limits.narrow(qs)))
        over, wait = limits.over(rows)
        if over:
            LEASES.release(over)
            if wait:
                wake(delay=wait)
        kept = [row for row in rows if row not in over]
        if kept or not over:
            return kept
    return []


def _claimable(queryset):
    return control.claimable(pause.claimable(queryset))


# --- room for e-mail: durable tasks never take every worker of a consumer ---------------------

_in_run = 0  # this process's workers inside run_due
_missed = False  # a wake-up was left while every task worker was busy
_in_run_lock = threading.Lock()


def task_workers():
    """How many of this consumer's workers may run durable tasks at once: all but DURABLE_RESERVED_WORKERS.

    The rest stay free for the outbox's deliveries (a Huey task of their own), so a new e-mail is
    picked up in milliseconds however many long tasks are queued. At least one, so a one-worker
    consumer still runs tasks (system check durable.W001 says e-mail then waits behind them).
    """
    consumer = getattr(HUEY, "consumer", None)  # this process's (mysite.queue.StopAware): run_huey -w counts too
    workers = consumer.workers if consumer is not None else settings.HUEY.get("consumer", {}).get("workers", 1)
    return max(workers - settings.DURABLE_RESERVED_WORKERS, 1)


def _enter():
    global _in_run, _missed
    with _in_run_lock:
        if _in_run >= task_workers():
            _missed = True
            return False
        _in_run += 1
        return True


def _room():
    """True while fewer than ``task_workers()`` of this process's workers run tasks."""
    with _in_run_lock:
        return _in_run < task_workers()


def _leave():
    """A worker leaves run_due; if a wake-up was left meanwhile, wake again (its task may have come after our last claim)."""
    global _in_run, _missed
    with _in_run_lock:
        _in_run -= 1
        missed, _missed = _missed, False
    if missed and not stopping():
        wake()


_batch = threading.local()


def run_due():
    """Claim and run due tasks until none is due, the consumer stops, or a batch is cut short.

    Each worker thread starts with batches of one and doubles its batch (up to DURABLE_BATCH_SIZE)
    while batches run within DURABLE_BATCH_SECONDS: no-op tasks are claimed many per UPDATE, while
    slow tasks are claimed one at a time and so spread over the workers. A database that fails
    (locked past its timeout, gone) ends the run, not the work: what was held goes back, and a
    wake-up comes a second later.
    """
    if stopping():
        return 0
    if not _enter():
        # The task workers all run tasks; each claims again when its task ends, so this wake-up is not needed.
        logger.debug("all %s task workers busy: this worker stays free for e-mail", task_workers())
        return 0
    try:
        return _run_due()
    finally:
        _leave()


def _run_due():
    MONITOR.ensure_running()
    done = 0
    try:
        while not stopping():
            limit = getattr(_batch, "limit", 1)
            rows = claim(limit)
            if not rows:
                return done
            if len(rows) >= limit and _room():
                wake()  # more may be due: let another worker join (none may while every task worker runs)
            began = time.monotonic()
            ran = run_batch(rows)
            done += ran
            if ran < len(rows):
                _batch.limit = 1
                return done
            fast = time.monotonic() - began <= settings.DURABLE_BATCH_SECONDS
            _batch.limit = min(limit * 2, settings.DURABLE_BATCH_SIZE) if fast else 1
    except DatabaseError:
        logger.exception("the database failed this worker after %s tasks; trying again in 1 s", done)
        wake(delay=1)
    return done


def run_batch(rows):
    """Run the claimed ``rows`` in order; give the rest back when stopping or past DURABLE_BATCH_SECONDS."""
    began = time.monotonic()
    for index, row in enumerate(rows):
        if index and (stopping() or time.monotonic() - began > settings.DURABLE_BATCH_SECONDS):
            given = LEASES.release(rows[index:])
            logger.debug("gave back %s claimed tasks untried", given)
            if not stopping():
                wake()
            return index
        try:
            run_one(row)
        except Exception:
            # The database (not the task) failed us: give what we hold back now rather than at lease expiry.
            logger.warning("task %s: could not record its outcome; giving back %s rows", row.pk, len(rows) - index)
            _give_back(rows[index:])
            raise
    return len(rows)


def _give_back(rows):
    try:
        LEASES.release(rows)
    except Exception:  # noqa: BLE001 - still failing: the leases lapse and the sweeper takes them
        logger.exception("could not give back tasks %s; the sweeper will", ", ".join(str(r.pk) for r in rows))
        LEASES.forget(rows)


def resolve(row):
    """The standard ``Task`` named by ``row``; ``TaskNotFound`` if the code no longer has it."""
    try:
        obj = import_string(row.name)
    except ImportError as exc:
        raise TaskNotFound(f"task {row.name} no longer exists in the code ({exc})") from None
    if not isinstance(obj, Task):
        raise TaskNotFound(f"{row.name} is not a task (no @task() on it?)")
    return obj


def run_one(row):
    """One attempt at ``row`` (held by this process, its attempt counted by the claim): call it, record the outcome."""
    now = timezone.now()
    number = row.attempts
    row.worker_ids = [*row.worker_ids, worker_id()]
    row.last_attempted_at = now  # the claim set started_at (first attempt) already
    try:
        task = resolve(row)
    except TaskNotFound as exc:
        _record(row, TaskAttempt.Outcome.FAILED, error=exc)
        logger.error("task %s %s failed: %s", row.pk, row.name, exc)
        return
    opts = options_of(task)
    began = time.monotonic()
    value, error, trace = control.call(row, _call, task, row, opts)  # hook (issue 17): durable.cancel stops it
    took = time.monotonic() - began
    tries = f"attempt {number}/{row.max_attempts}"
    if error is not None and control.record(row, error, trace):  # hook (issue 17): Snooze, or cancelled
        return
    if error is None:
        if _record(row, TaskAttempt.Outcome.SUCCESSFUL, value=value):
            logger.info("task %s %s succeeded in %.2f s (%s)", row.pk, row.name, took, tries)
        return
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if number >= row.max_attempts:
        if _record(row, TaskAttempt.Outcome.FAILED, error=error, trace=trace):
            logger.error("task %s %s failed in %.2f s (%s), giving up: %s", row.pk, row.name, took, tries, text)
        return
    # An error may say when to try again (an API's Retry-After); otherwise the task's back-off decides.
    delay = getattr(error, "retry_after", None)
    delay = float(opts.backoff(number) if delay is None else delay)
    due = timezone.now() + timedelta(seconds=delay)
    if _record(row, TaskAttempt.Outcome.RETRY, error=error, trace=trace, due=due):
        logger.warning(
            "task %s %s failed in %.2f s (%s), retry in %.0f s: %s", row.pk, row.name, took, tries, delay, text
        )
        wake(delay=delay)  # a wake-up at the retry's due time (the sweeper only catches what waited 30 s more)


def _call(task, row, opts):
    """Call the task in this thread under its time limit: ``(value, error, traceback)``."""
    limit = opts.time_limit
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
                _absorb_pending()
            return None, exc, traceback.format_exc()
        if limit and MONITOR.unwatch():
            _absorb_pending()
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


def _record(row, outcome, *, value=None, error=None, trace="", due=None):
    """Write the attempt's outcome on the row (fenced on its lease) and its ``TaskAttempt``, in one transaction."""
    now = timezone.now()
    text = "" if error is None else (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
    values = {"worker_ids": row.worker_ids, "last_attempted_at": row.last_attempted_at}
    if text or row.last_error:
        values.update(last_error=text[:2000], traceback=trace)
    if outcome == TaskAttempt.Outcome.SUCCESSFUL:
        values.update(status=TaskRow.Status.SUCCESSFUL, return_value=value, finished_at=now)
    elif outcome == TaskAttempt.Outcome.RETRY:
        values.update(status=TaskRow.Status.QUEUED, due_at=due)
    else:
        values.update(status=TaskRow.Status.FAILED, finished_at=now)
    with sql.serialized(TaskRow), transaction.atomic():
        written = LEASES.finish(row, **values)
        if written:
            attempt = TaskAttempt(
                task_id=row.pk,
                number=row.attempts,
                started_at=row.last_attempted_at,
                finished_at=now,
                worker_id=row.worker_ids[-1],
                outcome=outcome,
                error_class=_path(type(error)) if error is not None else "",
                error=text[:2000],
                traceback=trace,
            )
            sql.insert(attempt, ATTEMPT_FIELDS)
            if row.flow_id:  # hook (issue 17): a chain's hand-over or a batch's callbacks, in this transaction
                flows.finished(row, values["status"], value)
    return written


def wake(delay=None):
    """Wake another worker (a ``run_due`` on the queue); a queue that is down is logged, never raised."""
    from durable.backend import wake as enqueue_wakeup

    enqueue_wakeup(delay)


def due_waiting(seconds):
    """How many queued tasks have been due for more than ``seconds`` (no wake-up reached them)."""
    since = timezone.now() - timedelta(seconds=seconds)
    # Hook (issue 17): a paused queue's tasks wait on purpose; no wake-up is missing for them.
    return pause.claimable(TaskRow.objects.filter(status=TaskRow.Status.QUEUED, due_at__lt=since)).count()


def recover():
    """At consumer start: take back the rows of dead consumers on this host, and wake workers if anything is due."""
    atexit.register(LEASES.take_back_at_exit)  # tasks cut off by the shutdown timeout go back at once
    taken = LEASES.recover_dead()
    if taken or due_waiting(0):
        wake()
    return taken


def sweep():
    """Every minute: take back rows whose lease expired; wake a worker for due rows no wake-up reached."""
    taken = LEASES.sweep()
    control.settle()  # hook (issue 17): tasks asked to cancel and taken back from a dead consumer end cancelled
    flows.settle()  # hook (issue 17): flows whose members ended outside the worker's recording
    stale = due_waiting(settings.DURABLE_WAKE_AFTER_SECONDS)
    if stale:
        logger.warning(
            "%s tasks were due over %s s with no wake-up; waking a worker", stale, settings.DURABLE_WAKE_AFTER_SECONDS
        )
    if taken or stale:
        wake()
    return len(taken) + stale
