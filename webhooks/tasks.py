"""The webhooks' tasks: thin; the work is ``webhooks.delivery``."""

from huey import crontab

from durable import options
from durable.compat import task
from durable.periodic import periodic
from webhooks import delivery


# Attempts are counted by the endpoint (WEBHOOKS_PAUSE_AFTER pauses it); this cap only ends a task whose
# consumer keeps dying (kill -9, out of memory), and ``kick`` gives its delivery a new task later.
@options(max_attempts=50, unique_key=lambda delivery_id: f"webhooks.delivery:{delivery_id}", time_limit=120)
@task()
def deliver(delivery_id):
    """Send one delivery (or leave it waiting behind its endpoint's head, or its pause)."""
    return delivery.deliver(delivery_id)


# Once per slot across consumers (``durable.periodic``); a slot missed while no consumer ran is skipped: the
# next one, two minutes on, does the same work.
@periodic(crontab(minute="*/2"), missed="skip")
@task()
def kick():
    """Every two minutes: endpoints whose next delivery is overdue get a task again. Returns how many."""
    return delivery.kick()
