"""The task ``benchmarks.durable_kill`` runs (a module of its own: ``@task()`` needs settings at import)."""

import os
import time

from durable.compat import task


@task()
def sleepy(i, seconds, path):
    """Works ``seconds`` (in small steps), marking its start and end in ``path``: the runs survive a kill -9."""
    with open(path, "a") as f:
        f.write(f"start {i} {os.getpid()}\n")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    with open(path, "a") as f:
        f.write(f"end {i} {os.getpid()}\n")
    return i
