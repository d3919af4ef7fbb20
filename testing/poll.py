"""Waiting for something another process does, for tests and benchmarks alike."""

import socket
import time


def poll(predicate, timeout=30.0, interval=0.05):
    """Call ``predicate`` until it returns something truthy or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def poll_progress(count, target, stalled_after=30.0, interval=0.05):
    """Call ``count`` until it reaches ``target``, giving up only once it has not moved for ``stalled_after`` s: a
    loaded machine is slow but moves, work that nobody will do (a lost wake-up) does not. Returns the last count."""
    last, moved = count(), time.monotonic()
    while last < target and time.monotonic() - moved < stalled_after:
        time.sleep(interval)
        now = count()
        if now != last:
            last, moved = now, time.monotonic()
    return last


def port_answers(port, host="127.0.0.1"):
    """True when something accepts TCP connections on ``host:port``."""
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        return True
    except OSError:
        return False
