"""Huey configuration from one URL, and SQLite queue storage that wakes the consumer.

Huey's SQLite storage is polled: an idle consumer backs off to a poll every few
seconds, so new work waits. ``WakeupSqliteStorage`` makes the consumer block on a
datagram socket instead; whoever enqueues sends one byte, so an idle worker
picks new work up in milliseconds, while a slow poll still catches anything
enqueued by a process that could not send the wake-up.
"""

import hashlib
import logging
import os
import socket
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from huey import Huey, RedisHuey
from huey.storage import RedisStorage, SqliteStorage

from mysite.wakeup_marks import RedisWakeups, SqliteWakeups
from mysite.wakeups import Wakeups

logger = logging.getLogger(__name__)


class QueueURLError(ValueError):
    """HUEY_URL names no storage we can use."""


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
        try:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            self._sender.sendto(b"!", self.wake_address)
        except OSError:
            pass  # No consumer listening, or its buffer is full: the poll covers it.

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


# --- Knowing the consumer is stopping (issue 10) -------------------------------------


class StopAware:
    """Keeps the consumer this Huey creates, so a long-running task can see a stop signal.

    Huey's consumer sets its stop flag on SIGINT/SIGTERM and tells no one else; workers that
    loop over rows (``durable.startup.stopping()``) check it to stop claiming and exit in seconds.
    """

    consumer = None

    def create_consumer(self, **options):
        self.consumer = super().create_consumer(**options)
        stop = self.consumer.stop

        def stop_and_wake(graceful=False):
            # Workers asleep on the SQLite queue's wake-up socket would see the stop flag only after its poll
            # interval (2 s): every stop, and every test's consumer, waited that long for nothing. One datagram
            # wakes one of them.
            self.consumer.stop_flag.set()
            for _ in self.consumer.worker_threads:
                getattr(self.storage, "wake", lambda: None)()
            return stop(graceful)

        self.consumer.stop = stop_and_wake
        set_handlers = self.consumer._set_signal_handlers

        def set_handlers_and_say():
            # Huey logs "consumer started" before its workers run and sets its signal handlers last: a SIGINT
            # before then is a KeyboardInterrupt with no graceful stop. Whoever signals it can wait for this line.
            set_handlers()
            logger.info("consumer %s ready: SIGINT stops it gracefully", os.getpid())

        self.consumer._set_signal_handlers = set_handlers_and_say
        return self.consumer

    def stopping(self):
        """True once this process's consumer was told to stop."""
        return self.consumer is not None and self.consumer.stop_flag.is_set()

    # --- Knowing the queue came back (issue 10, part 4) ------------------------------
    # While the queue is down (Redis stopped), nothing can be enqueued: the rows wait, due. The
    # workers' dequeue fails meanwhile; the first dequeue that works again runs the hooks apps
    # registered with ``on_queue_back``, which wake the due work at once (not at the sweeper).

    _queue_down = False

    def on_queue_back(self, name):
        """Decorator: call the function (no arguments) in a worker when the queue works again after failing."""

        def decorator(fn):
            self.__dict__.setdefault("_queue_back_hooks", {})[name] = fn
            return fn

        return decorator

    def dequeue(self):
        try:
            task = super().dequeue()
        except Exception:
            self._queue_down = True
            raise
        if self._queue_down:
            self._queue_down = False  # one worker runs the hooks; a second run would only wake twice
            self._queue_came_back()
        return task

    def _queue_came_back(self):
        logger.warning("the queue works again: waking the work that became due while it was down")
        for name, hook in self.__dict__.get("_queue_back_hooks", {}).items():
            try:
                hook()
            except Exception:  # noqa: BLE001 - one app's hook must not keep the others from running
                logger.exception("queue-back hook %s failed", name)


class StopAwareRedisHuey(Wakeups, StopAware, RedisHuey):
    storage_class = WakeupRedisStorage


class WakeupSqliteHuey(Wakeups, StopAware, Huey):
    storage_class = WakeupSqliteStorage


def huey_settings(url, *, name="mysite", immediate=False, consumer=None):
    """Build Django's ``HUEY`` setting from ``HUEY_URL``.

    ``sqlite:////abs/path.sqlite3`` or ``redis://host:port/db``; anything else
    raises ``QueueURLError`` with a message naming the setting. ``?name=`` names the queue (Huey's name,
    default ``mysite``): on Redis its keys are ``huey.*.<name>``, so queues of several names share one
    database without seeing each other (the test suite gives each of its processes one).
    """
    parts = urlsplit(url or "")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    common = {
        "name": options.pop("name", None) or name,
        "immediate": immediate,
        "results": True,
        "store_none": False,
        "utc": True,
        "consumer": dict(consumer or {}),
    }
    if parts.scheme == "sqlite":
        # sqlite:////abs/path splits to the path "//abs/path": one leading slash names the same file.
        path = "/" + parts.path.lstrip("/") if parts.path else ""
        if not path or path == "/" or parts.netloc:
            raise QueueURLError(f"HUEY_URL={url!r}: expected sqlite:////absolute/path.sqlite3")
        if not os.path.isdir(os.path.dirname(path)):
            raise QueueURLError(f"HUEY_URL={url!r}: folder {os.path.dirname(path)} does not exist")
        return {
            **common,
            "huey_class": "mysite.queue.WakeupSqliteHuey",
            "connection": {
                "filename": path,
                "timeout": float(options.get("timeout", 20)),
                # The outbox rows are the truth; a task lost with the OS is re-enqueued by the sweeper.
                "fsync": options.get("fsync", "false").lower() in ("1", "true", "yes"),
                "poll_interval": float(options.get("poll_interval", 2.0)),
            },
        }
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise QueueURLError(f"HUEY_URL={url!r}: expected redis://host:port/db")
        try:
            parts.port  # noqa: B018  (raises ValueError on a bad port)
        except ValueError as exc:
            raise QueueURLError(f"HUEY_URL={url!r}: {exc}") from None
        from redis import ConnectionPool  # here: a site on SQLite does not load redis (mysite.lean)

        return {
            **common,
            "huey_class": "mysite.queue.StopAwareRedisHuey",
            "connection": {
                # Short timeouts: a request must not hang on a Redis that is down.
                "connection_pool": ConnectionPool.from_url(
                    parts._replace(query=urlencode(options)).geturl(),  # without ?name=, which is ours
                    socket_connect_timeout=1,
                    socket_timeout=5,
                    health_check_interval=30,
                ),
                "blocking": True,
                "read_timeout": 1,
            },
        }
    raise QueueURLError(f"HUEY_URL={url!r}: expected sqlite:////absolute/path.sqlite3 or redis://host:port/db")


__all__ = ["huey_settings", "QueueURLError", "WakeupSqliteHuey", "RedisHuey", "StopAwareRedisHuey"]
