"""The task ``benchmarks.durable`` drains (a module of its own: ``@task()`` needs settings at import)."""

from durable.compat import task


@task()
def noop(i):
    """Does nothing: the drain measures the machinery."""
    return None
