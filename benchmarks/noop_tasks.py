"""A no-op task written with Django's standard Tasks API, for the task benchmarks (section 7)."""

from django_tasks import task


@task()
def noop(i):
    """Does nothing but return its argument: what is measured is the queue's own cost."""
    return i
