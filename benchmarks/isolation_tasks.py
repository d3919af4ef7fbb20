"""The CPU-bound task ``benchmarks.isolation`` queues (a module of its own: ``@task()`` needs settings at import)."""

import os
import time

from durable import options
from durable.compat import task


@options(max_attempts=1, group="spin")
@task()
def spin(stop_path, seconds):
    """Pure Python arithmetic (the GIL held, no I/O) for ``seconds``, or until ``stop_path`` exists."""
    deadline = time.monotonic() + seconds
    look_at = 0.0
    n = 0
    while (now := time.monotonic()) < deadline:
        if now >= look_at:  # a stat() releases the GIL: look only every 0.2 s
            if os.path.exists(stop_path):
                break
            look_at = now + 0.2
        for i in range(10000):
            n += i * i
    return n % 1000
