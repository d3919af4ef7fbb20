"""Wake-ups: one per transaction, however many rows it queued, and none while a consumer drains that queue.

The rows are the truth; a Huey task only wakes a consumer to look at them. A request that queues
e-mails and durable tasks used to enqueue one wake-up per call (an LPUSH to Redis, or a second
SQLite commit, each time). Now each kind of row (``"outbox"``, ``"durable"``) asks for a wake-up
with ``HUEY.wake_on_commit(kind)``; the transaction's commit enqueues one ``mysite.wakeups.wake`` task naming
every kind it queued, and a consumer runs the handler each app registered with ``HUEY.on_wake(kind)``.

A consumer draining a kind keeps a marker up (``HUEY.draining(kind)``): a Redis key with a short
expiry it refreshes while it sends, or, on the SQLite queue, an abstract socket bound while it drains
(gone with the process). A commit whose every kind is being drained enqueues nothing. No wake-up is
lost: the request checks the marker after its commit, and the consumer takes the marker down before
its last look for due rows, so either the request sees no marker or the consumer sees the row. A
consumer that stops with rows still due hands them a real wake-up (``handover``) for the others.
"""

import logging
import os
import socket
import threading
import time
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
        self._wake_handlers = {}
        self._wake_task = self.task(name=WAKE_TASK)(self._run_wakeups)
        self._pending = threading.local()

    def on_wake(self, kind):
        """Decorator: the function (no arguments) a consumer runs when a wake-up names ``kind``."""

        def decorator(fn):
            self._wake_handlers[kind] = fn
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
            return self.storage.enqueue_wakeup(self.serialize_task(task), kinds)
        except Exception as exc:  # noqa: BLE001 - the rows are safe; a sweeper wakes them
            logger.warning(
                "could not enqueue a wake-up for %s (%s: %s); the sweeper will pick it up",
                kinds,
                type(exc).__name__,
                exc,
            )
            return False

    def _run_wakeups(self, kinds):
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


# --- Draining markers (the queue storages in ``mysite.queue`` make them) -----------------------


class SocketMark:
    """The SQLite queue's marker: an abstract socket bound while this process drains (the kernel drops it with us)."""

    def __init__(self, address):
        self.address, self.sock = address, None

    def up(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(self.address)
        except OSError:
            sock.close()  # another consumer process drains it: its marker stands for us too
            return
        sock.setblocking(False)
        self.sock = sock

    def refresh(self):
        while self.sock is not None:  # read what commits sent meanwhile, so their datagrams keep getting through
            try:
                self.sock.recv(16)
            except OSError:
                return

    def down(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class RedisMark:
    """The Redis queue's marker: a key that expires ``TTL_MS`` after this process last refreshed it."""

    TTL_MS = 5000  # a consumer killed while draining leaves its marker this long at most

    def __init__(self, conn, key):
        self.conn, self.key, self.set_at = conn, key, 0.0

    def up(self):
        self.conn.set(self.key, os.getpid(), px=self.TTL_MS)
        self.set_at = time.monotonic()

    def refresh(self):
        if time.monotonic() - self.set_at >= 1:
            self.up()

    def down(self):
        self.conn.delete(self.key)


class Marker:
    """One process's draining marker for one kind, up while any of its workers drains that kind."""

    _lock = threading.Lock()
    _markers = {}

    def __init__(self, mark):
        self.mark, self.holders, self.up = mark, 0, False

    @classmethod
    def of(cls, storage, kind, mark):
        with cls._lock:
            marker = cls._markers.setdefault((id(storage), kind, os.getpid()), cls(mark))
            marker.holders += 1
        return marker

    def refresh(self):
        """Put the marker up (at the first call: after the first send, so it costs no pickup time) or keep it up."""
        with self._lock:
            if self.up:
                self.mark.refresh()
            elif self.holders:
                self.mark.up()
                self.up = True

    def clear(self):
        with self._lock:
            self.holders -= 1
            if self.holders == 0 and self.up:
                self.mark.down()
                self.up = False
