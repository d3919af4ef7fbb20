"""The lifeline: every kind of leased row (durable tasks, the outbox, ...) registers here once, and gets
the one start-up recovery, the one sweep, the one give-back at exit and the one "queue is back" wake-up.

A kind is its ``Leases`` (``durable.leases``), a function that wakes workers for ``n`` due rows,
and how long a due row may wait before the sweep wakes a worker for it (a lost wake-up). The
monitor thread (``durable.monitor``) renews the leases of every registered kind while they are held.

Who calls what: a consumer at start (``durable.tasks.start``) calls ``start`` (recover, then
give back at exit, and ``watch_leases`` in its monitor thread every quarter of the shortest lease, so the
rows of a consumer that died on another host wait at most 1.25 leases); the periodic ``durable.sweep``
calls ``sweep`` on one consumer each minute;
the queue class calls ``queue_is_back`` after an outage (``mysite.consumer_events.StopAware``).
"""

import atexit
import logging
from dataclasses import dataclass
from typing import Any

from durable.monitor import MONITOR

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """One kind of leased row: its leases, how to wake workers for ``n`` due rows, and when a due row is stale."""

    leases: Any
    wake: Any  # n -> None
    stale_after: Any  # () -> seconds a due row may wait for its wake-up
    at_exit: Any = None  # () -> None: gives back what may go back at exit (default: every row still held)

    @property
    def name(self):
        return self.leases.model._meta.verbose_name_plural


KINDS = {}  # model label -> Kind
SETTLERS = {}  # name -> function run at each sweep, after the leases: what ended outside a worker settles


def settle_with(fn):
    """Run ``fn()`` at each sweep, after expired leases are taken back (cancelled tasks, flows: ``durable.tasks``)."""
    SETTLERS[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def register(leases, wake, stale_after, at_exit=None):
    """Put ``leases``'s rows on the lifeline (once per kind; registering again replaces it)."""
    KINDS[leases.model._meta.label] = Kind(leases, wake, stale_after, at_exit)
    MONITOR.renew(leases)


def start():
    """At consumer start: recover every kind's rows held by dead consumers of this host; give back ours at exit;
    watch for leases that lapse (``watch_leases``)."""
    atexit.register(give_back)
    MONITOR.add_duty("durable.watch_leases", watch_leases, first_in=watch_interval())
    MONITOR.ensure_running()
    return recover()


def watch_interval():
    """A quarter of the shortest lease, at least 1 s."""
    return max(min((kind.leases.seconds for kind in KINDS.values()), default=60) / 4, 1.0)


def watch_leases():
    """In every consumer's monitor thread, each ``watch_interval()``: take back rows whose lease expired (their
    holder died or hung, on any host) and wake workers for them. One indexed read per kind when none did; the
    take-back is fenced, so consumers that see the same row take it once. Returns the seconds to the next look."""
    for kind in KINDS.values():
        if _take_back_expired(kind):
            _wake_due(kind, 0)
    return watch_interval()


def _take_back_expired(kind):
    taken = len(kind.leases.sweep())
    if taken:
        logger.warning("sweeper: %s %s taken back from an expired lease", taken, kind.name)
    return taken


def recover():
    """Take back the rows held by processes of this host that have exited, and wake workers for what is due.

    Returns how many rows were taken back.
    """
    taken = 0
    for kind in KINDS.values():
        taken += len(kind.leases.recover_dead())
        _wake_due(kind, 0)
    return taken


def sweep():
    """Take back rows whose lease expired; wake workers for due rows no wake-up reached. Returns how many of both."""
    found = 0
    for kind in KINDS.values():
        taken = _take_back_expired(kind)
        stale = kind.leases.due(kind.stale_after()).count()
        if stale:
            logger.warning(
                "sweeper: %s %s waited over %s s with no wake-up; waking", stale, kind.name, kind.stale_after()
            )
        if taken or stale:
            _wake_due(kind, 0)
        found += taken + stale
    for settle in SETTLERS.values():
        settle()
    return found


def give_back():
    """At consumer exit: rows this process still holds (cut off by the shutdown timeout) go back now."""
    for kind in KINDS.values():
        (kind.at_exit or kind.leases.take_back_at_exit)()


def queue_is_back():
    """The queue works again after an outage: wake workers for every kind's rows that became due meanwhile."""
    for kind in KINDS.values():
        _wake_due(kind, 0)


def _wake_due(kind, seconds):
    due = kind.leases.due(seconds).count()
    if due:
        kind.wake(due)
    return due
