"""Wake-ups: one per transaction, however many rows it queued, and none while a consumer drains that queue.

The rows are the truth; a Huey task only wakes a consumer to look at them. A request that queues
e-mails and durable tasks used to enqueue one wake-up per call (an LPUSH to Redis, or a second
SQLite commit, each time). Now each kind of row (``"outbox"``, ``"durable"``) asks for a wake-up
with ``HUEY.wake_on_commit(kind)``; the transaction's commit enqueues one ``mysite.wakeups.wake`` task naming
every kind it queued, and a consumer runs the handler each app registered with ``HUEY.on_wake(kind)``.

A consumer draining a kind keeps a marker up (``HUEY.draining(kind)``): a Redis key with a short
expiry it refreshes while it sends, or, on the SQLite queue, an abstract socket bound while it drains
(gone with the process). A commit whose every kind is being drained, or has a wake-up still waiting in the
queue (kinds whose handler wakes more workers itself, ``on_wake(kind, spreads=True)``: durable tasks; a mark
the consumer takes down once it has run that wake-up, then looks again, or sooner when the wake-up's worker is
about to run a long task, ``take_wakeup_now``), enqueues nothing. No
wake-up is lost: the request checks the marker after its commit, and the consumer takes the marker down before
its last look for due rows, so either the request sees no marker or the consumer sees the row. A
consumer that stops with rows still due hands them a real wake-up (``handover``) for the others.
"""

import logging
import threading
from contextlib import contextmanager

logger = logging.getLogger(__name__)

WAKE_TASK = "wake"  # Huey names it mysite.wakeups.wake


class _Nothing:
    def refresh(self):
        pass


class Wakeups:
    """Mixin for the project's Huey classes (``mysite.queue``): coalesced, skippable wake-ups."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._wake_handlers, self._spreading = {}, set()
        self._wake_task = self.task(name=WAKE_TASK)(self._run_wakeups)
        self._pending = threading.local()
        self._untaken = threading.local()  # the marks of the wake-up this worker thread runs, not yet taken down

    def on_wake(self, kind, spreads=False):
        """Decorator: the function (no arguments) a consumer runs when a wake-up names ``kind``.

        ``spreads``: the handler wakes more workers itself when more is due (``durable.claim``), so one wake-up
        waiting in the queue stands for every commit after it; otherwise each commit brings its own (the outbox
        spreads a burst over the workers that way).
        """

        def decorator(fn):
            self._wake_handlers[kind] = fn
            if spreads:
                self._spreading.add(kind)
            return fn

        return decorator

    def wake_on_commit(self, kind, using=None):
        """Once the current transaction commits, wake a consumer for ``kind`` (at once outside a transaction).

        However many rows of however many kinds a transaction queues, its commit enqueues one wake-up.
        """
        from django.db import transaction

        connection = transaction.get_connection(using)
        if not connection.in_atomic_block:
            self.wake(kind)
            return
        pending = getattr(self._pending, connection.alias, None)
        if pending is not None and any(fn is pending["send"] for _, fn, _ in connection.run_on_commit):
            pending["kinds"].add(kind)
            return
        pending = {"kinds": {kind}}
        pending["send"] = lambda: self._send_pending(connection.alias, pending)
        setattr(self._pending, connection.alias, pending)
        transaction.on_commit(pending["send"], using=using)

    def _send_pending(self, alias, pending):
        if getattr(self._pending, alias, None) is pending:
            setattr(self._pending, alias, None)
        self.wake(*sorted(pending["kinds"]))

    def wake(self, *kinds):
        """Enqueue one wake-up for ``kinds`` unless a consumer drains every one of them; never raises.

        Returns True when a wake-up was enqueued. A queue that is down is logged: the rows are
        committed, and the sweepers (or the consumer, when its queue works again) wake them.
        """
        task = self._wake_task.s(list(kinds))
        try:
            if self.immediate:
                self.enqueue(task)
                return True
            spreading = [kind for kind in kinds if kind in self._spreading]
            return self.storage.enqueue_wakeup(self.serialize_task(task), kinds, spreading)
        except Exception as exc:  # noqa: BLE001 - the rows are safe; a sweeper wakes them
            logger.warning(
                "could not enqueue a wake-up for %s (%s: %s); the sweeper will pick it up",
                kinds,
                type(exc).__name__,
                exc,
            )
            return False

    def is_revoked(self, task, timestamp=None, peek=True):
        """A wake-up is never revoked, so Huey does not read the queue for it before it runs (a round trip on
        Redis, two SELECTs on SQLite, on every pickup). Nothing in the site revokes Huey tasks: the rows say
        what runs (``durable.pause`` a queue, ``durable.cancel`` a task)."""
        if isinstance(task, self._wake_task.task_class):  # this Huey's own wake-up, not any task named "wake"
            return False
        return super().is_revoked(task, timestamp, peek)

    def _run_wakeups(self, kinds):
        """Run each kind's handler; then take the wake-up's mark down and run them once more.

        The first run is not held up by the take (a round trip to Redis): a task starts sooner. A commit that
        saw the mark and skipped its wake-up committed before the take, so the second run sees its rows. A
        handler about to be busy for long takes its mark sooner (``take_wakeup_now``); then it has no second run.
        """
        self._untaken.kinds = {kind for kind in kinds if kind in self._spreading}  # only these leave a mark
        try:
            self._run_handlers(kinds)
        finally:
            marked, self._untaken.kinds = sorted(self._untaken.kinds), set()
        if not marked or not self._take(marked):
            return
        self._run_handlers(marked)

    def take_wakeup_now(self, kind):
        """Called by ``kind``'s handler before it is busy for long (a task not seen short): take the mark of the
        wake-up it runs now, so that commits from here on wake another worker instead of counting on this one.

        True when it took one: the caller then has another worker look for due rows (a commit that skipped its
        wake-up may have come after the handler's last look). False outside a wake-up or when already taken.
        """
        untaken = getattr(self._untaken, "kinds", None)
        if not untaken or kind not in untaken:
            return False
        untaken.discard(kind)
        return self._take([kind])

    def _take(self, kinds):
        take = getattr(self.storage, "take_wakeup", None)
        if take is None:
            return False
        try:
            take(kinds)
        except Exception as exc:  # noqa: BLE001 - its mark expires by itself (mysite.wakeup_marks.PENDING_SECONDS)
            logger.warning("could not take the wake-up mark of %s (%s: %s)", kinds, type(exc).__name__, exc)
            return False
        return True

    def _run_handlers(self, kinds):
        from django.db import close_old_connections

        for kind in kinds:
            handler = self._wake_handlers.get(kind)
            if handler is None:
                logger.warning("wake-up for %r: no handler registered (an app not installed?)", kind)
                continue
            close_old_connections()
            try:
                handler()
            finally:
                close_old_connections()

    @contextmanager
    def draining(self, kind):
        """While inside: this process drains ``kind``, so commits that queue only ``kind`` need not wake anyone.

        Call ``refresh()`` on what it yields at least every second or so (after each send): the marker goes
        up at the first call (a commit then skips its wake-up; before it, one is enqueued). On the way out
        the marker goes first; the caller then looks for due rows once more (see the module's docstring).
        """
        mark = getattr(self.storage, "mark_draining", None)
        if mark is None or self.immediate:
            yield _Nothing()
            return
        marker = mark(kind)
        try:
            yield marker
        finally:
            marker.clear()

    def is_draining(self, kind):
        """True while some consumer keeps ``kind``'s draining marker up (for tests and the operations page)."""
        check = getattr(self.storage, "draining_now", None)
        return bool(check and check(kind))
