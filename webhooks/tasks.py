"""The webhooks' tasks: thin; the work is ``webhooks.delivery``."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from huey import crontab

from durable import options
from durable.compat import task
from durable.options import parse_rate
from durable.periodic import periodic
from webhooks import delivery


def per_host_rate(text):
    """WEBHOOKS_RATE_PER_HOST checked at start-up: ``None`` for no limit, else the rate (an error names the setting)."""
    if not text:
        return None
    try:
        parse_rate(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"WEBHOOKS_RATE_PER_HOST: {exc}") from None
    return text


RATE = per_host_rate(settings.WEBHOOKS_RATE_PER_HOST)


# Attempts are counted by the endpoint (WEBHOOKS_PAUSE_AFTER pauses it); this cap only ends a task whose
# consumer keeps dying (kill -9, out of memory), and ``kick`` gives its delivery a new task later.
# The group key is the endpoint's (``delivery.queue_key``): one at a time per endpoint, in the order enqueued,
# a retry holding the later ones back; the rate counts every endpoint of one host (``delivery.host_scope``).
@options(
    max_attempts=50,
    unique_key=lambda delivery_id, key="": f"webhooks.delivery:{delivery_id}",
    time_limit=120,
    group=lambda delivery_id, key="": key,
    concurrency=1,
    ordered=True,
    rate=RATE,
    rate_key=delivery.host_scope if RATE else None,
)
@task()
def deliver(delivery_id, key=""):
    """Send one delivery (or leave it for its endpoint's resume). ``key``: its endpoint's queue key (the group)."""
    return delivery.deliver(delivery_id)


# Once per slot across consumers (``durable.periodic``); a slot missed while no consumer ran is skipped: the
# next one, two minutes on, does the same work.
@periodic(crontab(minute="*/2"), missed="skip")
@task()
def kick():
    """Every two minutes: endpoints whose next delivery is overdue get a task again. Returns how many."""
    return delivery.kick()
