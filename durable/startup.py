"""Consumer start-up hooks that run once per consumer process.

Huey calls ``on_startup`` hooks in every worker; recovery and catch-up work
must run once per process, and never in immediate mode (tests, web processes).
"""

import os
import threading
from functools import wraps

from django.db import close_old_connections
from huey.contrib.djhuey import HUEY


def stopping():
    """True once this consumer process was told to stop (SIGINT/SIGTERM): finish what you hold, claim nothing new."""
    check = getattr(HUEY, "stopping", None)
    return bool(check and check())


def once_per_consumer(name):
    """Register the decorated function as a Huey start-up hook run once per consumer process."""

    def decorator(fn):
        lock = threading.Lock()
        ran_in = set()  # pids: process workers fork, and each process runs it once

        @wraps(fn)
        def hook():
            with lock:
                if os.getpid() in ran_in or HUEY.immediate:
                    return
                ran_in.add(os.getpid())
            try:
                fn()
            finally:
                close_old_connections()

        HUEY.on_startup(name)(hook)
        return hook

    return decorator


def when_queue_returns(name):
    """Register the decorated function to run in a consumer when its queue works again after an outage.

    Wake-ups sent while the queue was down (Redis stopped) were lost, but the rows are due: the
    function wakes them at once instead of leaving them to the sweeper. Needs a queue class that
    notices (``mysite.consumer_events.StopAware``); with another, nothing is registered and the sweeper still runs.
    """

    def decorator(fn):
        @wraps(fn)
        def hook():
            try:
                fn()
            finally:
                close_old_connections()

        register = getattr(HUEY, "on_queue_back", None)
        if register is not None:
            register(name)(hook)
        return hook

    return decorator
