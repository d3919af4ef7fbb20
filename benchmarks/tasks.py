"""Huey tasks the bench's consumers run (``benchmarks`` is an installed app in ``benchmarks.settings``)."""

import time

from huey.contrib.djhuey import db_task


@db_task(name="bench.plain_noop")
def plain_noop(i):
    """A plain Huey ``@db_task`` no-op, the baseline of the durable no-op drain: its finish time is its result."""
    return time.time()
