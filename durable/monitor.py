"""The one monitor thread of a consumer process: renews every held lease, stops tasks past their time limit,
and runs the other duties registered with it (the consumer's heartbeat row, ``operations.heartbeat``; cancel
requests of the tasks it runs, ``durable.control``).

Each kind of leased row (``durable.lifeline.register``) is renewed every third of its own lease, with
one UPDATE while this process holds any of it, so a lease bounds how long a dead consumer's rows
wait, not how long the work may run. A failed renewal is tried again a second later.

Time limits (and ``durable.cancel``): the thread raises ``TimeLimitExceeded`` (``TaskCancelled``) inside the
task's thread (``PyThreadState_SetAsyncExc``), delivered when that thread next runs Python code (docs/tasks.md
says what that leaves out: one long C call, a task that catches ``BaseException``).
"""

import logging
import os
import threading
import time

from django.db import connections

from durable.exceptions import TimeLimitExceeded

logger = logging.getLogger(__name__)

HOLD_SECONDS = 1.0  # a round due sooner keeps this thread's connection (polling cancel requests while tasks run)


class Monitor:
    """One thread per consumer process: runs its duties on time, and stops tasks past their time limit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._watched = {}  # thread ident -> deadline (monotonic)
        self._fired = set()
        self._duties = {}  # name -> [function () -> seconds to its next run, next run (monotonic)]
        self._changed = threading.Event()
        self._thread = None
        self._pid = None

    def ensure_running(self):
        """Start the thread in this process (again after a fork); a no-op while it runs."""
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="durable-monitor", daemon=True)
            self._thread.start()

    # --- duties ----------------------------------------------------------------------------

    def add_duty(self, name, duty, first_in=0.0):
        """Run ``duty()`` in the thread ``first_in`` seconds from now, then again after the seconds it returns."""
        with self._lock:
            self._duties[name] = [duty, time.monotonic() + first_in]
        self._changed.set()

    def remove_duty(self, name):
        with self._lock:
            self._duties.pop(name, None)

    def renew(self, leases):
        """Renew ``leases`` (a ``durable.leases.Leases``) every third of its lease while this process holds rows of it."""
        self.add_duty(f"renew {leases.model._meta.label}", lambda: _renew(leases), first_in=_interval(leases))

    def _run_duties(self):
        now = time.monotonic()
        with self._lock:
            due = [(name, entry) for name, entry in self._duties.items() if entry[1] <= now]
        for name, entry in due:
            try:
                entry[1] = time.monotonic() + entry[0]()
            except Exception as exc:  # noqa: BLE001 - a locked or lost database: try again soon
                # No traceback: formatting one parses source (ast), which is not safe beside another thread's compile.
                logger.warning("monitor duty %r failed (%s: %s); trying again in 1 s", name, type(exc).__name__, exc)
                entry[1] = time.monotonic() + 1.0
        with self._lock:
            next_run = min((entry[1] for entry in self._duties.values()), default=now + 1.0)
        if due and next_run - time.monotonic() > HOLD_SECONDS:
            connections.close_all()  # this thread's: one connect per round rather than one held idle
        return next_run

    # --- time limits --------------------------------------------------------------------------

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
                    del self._watched[ident]
                    self._fired.add(ident)
                    interrupt(ident, TimeLimitExceeded)
            return min(self._watched.values(), default=None)

    def _run(self):
        while True:
            nearest = self._fire_due()
            next_duty = self._run_duties()
            if nearest is not None:
                next_duty = min(next_duty, nearest)
            self._changed.wait(max(next_duty - time.monotonic(), 0.01))
            self._changed.clear()


def interrupt(ident, exc_type):
    """Raise ``exc_type`` in the thread ``ident`` when it next runs Python code (a time limit, ``durable.cancel``)."""
    import ctypes  # here, not at start-up: ~0.4 MB a consumer that never stops a task does not load

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc_type))


def absorb(exc_type):
    """An exception the monitor fired into this thread (``exc_type``) as its task ended on its own: take it here,
    on its way (it lands within a moment), not in the recording that comes next."""
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            pass
    except exc_type:
        pass


def _interval(leases):
    return max(leases.seconds / 3, 0.5)


def _renew(leases):
    if leases.held_tokens():
        logger.debug("renewed %s %s leases", leases.renew(), leases.model._meta.model_name)
    return _interval(leases)


MONITOR = Monitor()
