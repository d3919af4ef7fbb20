"""Huey queue storages that wake the consumer: SQLite (a datagram socket) and Redis (wake-ups skipped while drained).

Huey's SQLite storage is polled: an idle consumer backs off to a poll every few
seconds, so new work waits. ``WakeupSqliteStorage`` makes the consumer block on a
datagram socket instead; whoever enqueues sends one byte, so an idle worker
picks new work up in milliseconds, while a slow poll still catches anything
enqueued by a process that could not send the wake-up.
"""

import hashlib
import os
import socket
import time

from huey.storage import RedisStorage, SqliteStorage

from mysite.wakeup_marks import RedisWakeups, SqliteWakeups


class WakeupSqliteStorage(SqliteWakeups, SqliteStorage):
    """SQLite queue whose consumer sleeps on a socket until work arrives."""

    blocking = True  # Huey's worker then calls dequeue() without sleeping itself.

    def __init__(self, *args, poll_interval=2.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.poll_interval = poll_interval
        digest = hashlib.sha1(os.path.abspath(self.filename).encode()).hexdigest()[:20]
        # Linux abstract socket: no file to leave behind, gone when the consumer dies.
        self.wake_address = "\0mysite-huey-" + digest
        self._sender = None
        self._listener = None
        self._listener_pid = None

    def enqueue(self, data, priority=None):
        super().enqueue(data, priority)
        self.wake()

    def wake(self):
        """Tell a sleeping consumer there is work; never fails the caller."""
        self._send(self.wake_address)  # False: no consumer listening, or its buffer is full: the poll covers it

    def _send(self, address):
        """One datagram to ``address``; True if a socket is bound there (and had room for it)."""
        try:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            self._sender.sendto(b"!", address)
            return True
        except OSError:
            return False

    def _listen(self):
        if self._listener_pid == os.getpid():
            return self._listener
        self._listener_pid = os.getpid()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(self.wake_address)
        except OSError:
            # Another consumer (or process worker) owns the address: poll instead.
            sock.close()
            self._listener = None
        else:
            self._listener = sock
        return self._listener

    def dequeue(self):
        data = super().dequeue()
        if data is not None:
            return data
        listener = self._listen()
        if listener is None:
            time.sleep(min(self.poll_interval, 0.1))
        else:
            listener.settimeout(self.poll_interval)
            try:
                listener.recv(64)
            except (TimeoutError, OSError):
                pass
        return super().dequeue()


class WakeupRedisStorage(RedisWakeups, RedisStorage):
    """Redis queue whose wake-ups are skipped, in the same round trip, while a consumer drains their kinds."""
