"""Claiming and dispatch: a free task worker claims what it starts now, and runs it (``durable.executor``).

``run_due`` (the Huey wake-up ``durable.run_due``) loops: claim, run, until nothing is due. A worker claims one
row, so a claimed row is a row that runs and "running" means running. Batches are kept for tasks this process has
seen to be short (their last run took under DURABLE_BATCH_SECONDS / DURABLE_BATCH_SIZE): a claim takes the run of
such rows at the head of the queue, in order, and never puts a row behind one that is slow or not yet seen. What a
batch still holds past DURABLE_BATCH_SECONDS (a short task turned slow) goes back at once.

Durable tasks never take every worker of a consumer: ``task_workers()`` of them may run tasks, the rest stay free
for e-mail (a Huey task of its own).
"""

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections, router
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_task

from durable import batching, executor, limits, sql
from durable.models import LEASES, Task, claimable
from durable.monitor import MONITOR
from durable.startup import stopping
from durable.stops import uncancelled

logger = logging.getLogger(__name__)


@db_task(name="durable.run_due")
def wakeup():
    """The wake-up: run the due task rows (any worker may take any wake-up; lost or extra ones cost nothing)."""
    run_due()


def wake(delay=None):
    """Wake a worker (enqueue ``durable.run_due``, ``delay`` s ahead); a queue that is down is logged, never raised:
    the row is committed either way, and the sweeper (``durable.lifeline``) wakes a consumer for it later."""
    try:
        if delay:
            wakeup.schedule(delay=delay)
        else:
            wakeup()
    except Exception as exc:  # noqa: BLE001 - the row is committed; the sweeper wakes a consumer later
        logger.warning("could not wake a consumer (%s: %s); the sweeper will", type(exc).__name__, exc)


# --- claim -------------------------------------------------------------------------------------


def claim_next():
    """Claim what this worker starts now: the head of the queue, or the run of short rows at its head.

    Returns ``(rows, more)``: ``more`` is False when the claim saw that nothing else is due (no wake-up needed).
    """
    if batching.batch_size() == 1:
        return claim(1), True  # no look ahead: more may be due
    head = _head(batching.batch_size())
    if not head:  # claim nothing (an empty write transaction, SQLite's lock); a key whose rate reopens still wakes
        _, wait = limits.over([])
        if wait:
            wake(delay=wait)
        return [], False
    run = [pk for pk, name in head[: batching.short_run(head)]]
    rows = claim(len(run), only=run) if len(run) > 1 else []
    rows = rows or claim(1)
    return rows, len(head) > len(rows) or len(head) == batching.batch_size()


def _head(n):
    """``(pk, name)`` of the first ``n`` rows a claim would take, in order (one statement per shape)."""
    shape = limits.shape()
    size = 1 << (n - 1).bit_length()  # read up to the next power of two: a few shapes however n varies

    def build(now):
        due = limits.narrow(LEASES.due(now=now), shape)  # LEASES.due() leaves paused queues out already
        return uncancelled(due).order_by(*LEASES.order_by).values_list("pk", "name")[:size].query

    conn, now = connections[router.db_for_write(Task)], timezone.now()  # the database LEASES claims on
    head = sql.statement(conn, None if shape is None else ("head", shape, size), build, now=now)
    return head.rows(conn, {"now": now})[:n]


def claim(limit=1, only=None):
    """Claim up to ``limit`` due rows (of the ids ``only``, if given) in order, keeping every key under its limits.

    The limits are ``durable.limits`` (per group key, across consumers: a running cap and a start rate): rows
    over them go back untried, with a wake-up for when a rate has room. No consumer claims the tasks of a
    paused queue (``durable.pause``) or asked to cancel (``durable.control``). When every row claimed was over
    its limits, one more claim leaves their keys out, so the other due tasks still run.
    """

    for _ in range(2):
        kept, over, wait = _claim_checked(limit, only)
        if wait:
            wake(delay=wait)  # a rate's window opens: for the rows given back, or the keys the claim left out
        if kept or not over:
            return kept
    return []


def _claim_checked(limit, only):
    """One claim whose rows over their key's limits go back in its transaction: ``(kept, over, wait)``."""
    seen = {}
    shape = limits.shape()  # the claim's statement is made once per shape

    def narrow(due):
        return claimable(limits.narrow(due, shape))

    def check(rows):
        seen["over"], seen["wait"] = limits.over(rows)
        return seen["over"]

    kept = LEASES.claim(limit=limit, where=narrow, check=check, shape=shape, among=only)
    if not seen:  # nothing won: no check ran, but the claim may have left out keys whose rate reopens
        check([])
    return kept, seen["over"], seen["wait"]


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
    if missed:
        wake()  # (stopping: another consumer answers it)


# --- dispatch ----------------------------------------------------------------------------------


def run_due():
    """Claim and run due tasks until none is due or the consumer stops; how many ran. A database that fails (locked
    past its timeout, gone) ends the run, not the work: what was held goes back, and a wake-up comes a second later."""
    if stopping():
        wake()  # a wake-up this consumer took off the queue as it stops: another consumer's to answer
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
    done, drain = 0, _Draining()
    try:
        while not stopping():
            rows, more = claim_next()
            if not rows:
                if drain.release():
                    continue  # the marker is down: one more look catches rows whose commit skipped its wake-up
                return done
            if more and _room():
                wake()  # more may be due: let another worker join (none may while every task worker runs)
            short = len(rows) > 1 or batching.short(rows[0].name)
            if not short:  # this worker runs a task not seen short: rows whose wake-up was skipped are another's
                held = [drain.release(), _take_wakeup()]  # let go of both, whichever stood for later commits
                if any(held) and _room():
                    wake()
            ran_now = run_batch(rows)
            done += ran_now
            if ran_now < len(rows):
                return done
            if short:
                drain.hold()
    except DatabaseError:
        logger.exception("the database failed this worker after %s tasks; trying again in 1 s", done)
        wake(delay=1)
    finally:
        if drain.release() and stopping():
            wake()  # wake-ups skipped while this consumer drained now need another consumer
    return done


def _take_wakeup():
    """Before a task not seen short: the wake-up this worker runs stops standing for later commits (``mysite.wakeups``;
    else they skip theirs for up to its mark's life while the other workers idle). True if it stood for them."""
    take = getattr(HUEY, "take_wakeup_now", None)  # another queue class: no marks
    return bool(take and take("durable"))


class _Draining:
    """This worker's hold on the ``"durable"`` draining marker (``mysite.wakeups``): up while it runs batches of
    tasks seen to be short (it claims again within DURABLE_BATCH_SECONDS), so commits skip their wake-up; never
    while it runs a task not seen short (an idle worker must be woken for a new row meanwhile)."""

    def __init__(self):
        self._context = self._marker = None

    def hold(self):
        if self._context is None:
            draining = getattr(HUEY, "draining", None)  # another queue class: no marker
            if draining is None:
                return
            self._context = draining("durable")
            self._marker = self._context.__enter__()
        self._marker.refresh()  # up at the first call, kept up after

    def release(self):
        """Let go of the marker; True if this worker held it (the caller then looks for due rows once more)."""
        if self._context is None:
            return False
        context, self._context = self._context, None
        context.__exit__(None, None, None)
        return True


def run_batch(rows):
    """Run the claimed ``rows`` in order; give the rest back when stopping or past DURABLE_BATCH_SECONDS.

    The successes of a batch are recorded together when it ends (one commit); each other outcome at once.
    """
    began = time.monotonic()
    done = [] if len(rows) > 1 else None
    index = 0
    try:
        for index, row in enumerate(rows):  # noqa: B007 - index: where a failure left off
            if index and (stopping() or time.monotonic() - began > settings.DURABLE_BATCH_SECONDS):
                executor.record_succeeded(done)
                given = LEASES.release(rows[index:])
                logger.debug("gave back %s claimed tasks untried", given)
                if not stopping():
                    wake()
                return index
            retry_in = executor.run_one(row, noted=batching.ran, succeeded=done)
            if retry_in is not None:
                wake(delay=retry_in)  # a wake-up at the retry's due time (the sweeper only catches what waited longer)
        executor.record_succeeded(done)
    except Exception:
        # The database (not the task) failed us: give what we hold back now rather than at lease expiry.
        logger.warning("tasks of a batch of %s: could not record their outcome; giving them back", len(rows))
        _give_back([r for r, _, _ in done or ()] + rows[index:])
        raise
    return len(rows)


def _give_back(rows):
    try:
        LEASES.release(rows)
    except Exception:  # noqa: BLE001 - still failing: the leases lapse and the sweeper takes them
        logger.exception("could not give back tasks %s; the sweeper will", ", ".join(str(r.pk) for r in rows))
        LEASES.forget(rows)
