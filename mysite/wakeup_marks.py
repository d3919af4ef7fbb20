"""The queue storages' side of wake-ups (``mysite.wakeups``): skip a wake-up nobody needs, and draining markers.

A commit's wake-up is skipped when a consumer drains each kind it names (a draining marker is up) or when
a wake-up for each is still waiting in the queue (a pending mark, set with it and taken down by the consumer
once it has run it, before it looks at the rows once more). The storages of ``mysite.queue`` mix these in.
"""

import os
import socket
import threading
import time

# --- The queue storages' side (mixins of ``mysite.queue``'s storages) ----------------------------

# A wake-up waiting in the queue stands for the commits after it this long at most: a consumer that took it
# off the queue and died before starting it delays the next wake-up by no more (the sweepers cover the rest).
PENDING_SECONDS = 5


class SqliteWakeups:
    """The SQLite queue's wake-ups: skipped while a consumer drains their kinds (an abstract socket bound, see
    ``SocketMark``) or while one for them waits in the queue (a mark in Huey's kv table, ``take_wakeup`` clears it)."""

    def enqueue_wakeup(self, data, kinds, spreading=()):
        """Enqueue ``data`` unless each of ``kinds`` is drained or (of ``spreading``) has a wake-up waiting; True
        when enqueued."""
        kinds = [kind for kind in kinds if not self._draining_elsewhere(kind)]
        if not kinds or (set(kinds) <= set(spreading) and self._all_pending(kinds)):
            return False
        expires = time.time() + PENDING_SECONDS
        with self.db(commit=True) as curs:
            curs.execute("insert into task (queue, data, priority) values (?, ?, 0)", (self.name, self.to_blob(data)))
            marks = [(self._pending_queue, kind, expires) for kind in kinds if kind in spreading]
            curs.executemany("insert or replace into kv (queue, key, value) values (?, ?, ?)", marks)
        self.wake()
        return True

    @property
    def _pending_queue(self):
        return f"{self.name}.wake-pending"  # in Huey's kv table beside its results, not counted among them

    def _all_pending(self, kinds):
        marks = ", ".join("?" * len(kinds))
        query = f"select count(*) from kv where queue = ? and key in ({marks}) and value > ?"  # noqa: S608 - "?" only
        return self.sql(query, (self._pending_queue, *kinds, time.time()), results=True)[0][0] == len(kinds)

    def flush_queue(self):
        super().flush_queue()
        self.sql("delete from kv where queue = ?", (self._pending_queue,), commit=True)  # their wake-ups are gone

    def take_wakeup(self, kinds):
        """A consumer starts on a wake-up for ``kinds``: the next commit that queues them wakes again."""
        marks = ", ".join("?" * len(kinds))
        query = f"delete from kv where queue = ? and key in ({marks})"  # noqa: S608 - "?" only
        self.sql(query, (self._pending_queue, *kinds), commit=True)

    def _draining_elsewhere(self, kind):
        # A datagram reaches the socket only while a consumer is bound to it, i.e. drains ``kind`` (else: wake).
        return self._send(self._draining_address(kind))

    def _draining_address(self, kind):
        return f"{self.wake_address}-draining-{kind}"

    def mark_draining(self, kind):
        """A marker for ``kind``: an abstract socket bound while this process drains it (gone if it dies)."""
        return Marker.of(self, kind, SocketMark(self._draining_address(kind)))

    def draining_now(self, kind):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.bind(self._draining_address(kind))
        except OSError:
            return True
        finally:
            probe.close()
        return False


class RedisWakeups:
    """The Redis queue's wake-ups: skipped, in the enqueue's one round trip, while a consumer drains their kinds
    (a key it refreshes, ``RedisMark``) or while one for them waits in the queue (a key ``take_wakeup`` deletes)."""

    # KEYS: the queue, then each kind's draining and pending keys; ARGV: the message, the pending keys' expiry (ms),
    # then for each kind "1" if one waiting wake-up stands for it ("spreading"), else "0".
    _ENQUEUE_UNLESS_DRAINING = """
    local wake = false
    for i = 2, #KEYS, 2 do
        local spreads = ARGV[2 + i / 2] == '1'
        if redis.call('exists', KEYS[i]) == 0 and not (spreads and redis.call('exists', KEYS[i + 1]) == 1) then
            wake = true
        end
    end
    if not wake then return 0 end
    for i = 2, #KEYS, 2 do
        if ARGV[2 + i / 2] == '1' then redis.call('set', KEYS[i + 1], 1, 'px', ARGV[2]) end
    end
    return redis.call('lpush', KEYS[1], ARGV[1])
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._enqueue_unless_draining = self.conn.register_script(self._ENQUEUE_UNLESS_DRAINING)

    def _draining_key(self, kind):
        return f"huey.draining.{self.name}.{kind}"

    def _pending_key(self, kind):
        return f"huey.wake-pending.{self.name}.{kind}"

    def enqueue_wakeup(self, data, kinds, spreading=()):
        """Enqueue ``data`` unless each of ``kinds`` is drained or (of ``spreading``) has a wake-up waiting; True
        when enqueued."""
        keys, flags = [self.queue_key], []
        for kind in kinds:
            keys += [self._draining_key(kind), self._pending_key(kind)]
            flags.append("1" if kind in spreading else "0")
        return bool(self._enqueue_unless_draining(keys=keys, args=[data, int(PENDING_SECONDS * 1000), *flags]))

    def flush_queue(self):
        super().flush_queue()
        pending = list(self.conn.scan_iter(self._pending_key("*")))
        if pending:
            self.conn.delete(*pending)  # their wake-ups are gone

    def take_wakeup(self, kinds):
        """A consumer starts on a wake-up for ``kinds``: the next commit that queues them wakes again."""
        self.conn.delete(*(self._pending_key(kind) for kind in kinds))

    def mark_draining(self, kind):
        """A marker for ``kind``: a key that expires unless this process refreshes it while it drains."""
        return Marker.of(self, kind, RedisMark(self.conn, self._draining_key(kind)))

    def draining_now(self, kind):
        return bool(self.conn.exists(self._draining_key(kind)))


# --- Draining markers ------------------------------------------------------------------------------


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
