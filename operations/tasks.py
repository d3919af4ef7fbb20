"""Periodic housekeeping on the Huey consumer."""

import datetime

from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_periodic_task, on_startup

from operations import cleanup


def at_site_midnight(utc_now):
    """Huey validator: true in the minute after midnight in the site's TIME_ZONE (Huey passes naive UTC)."""
    local = timezone.localtime(utc_now.replace(tzinfo=datetime.UTC))
    return local.hour == 0 and local.minute == 0


@db_periodic_task(at_site_midnight)
def daily_cleanup():
    """Prune what is past retention; at most once per site-local day."""
    cleanup.run_if_due()


_caught_up = False


@on_startup(name="operations.catch_up")
def catch_up():
    """A consumer that was down at midnight runs the missed cleanup when it starts."""
    global _caught_up
    if _caught_up or HUEY.immediate:
        return
    _caught_up = True
    daily_cleanup()  # enqueue; run_if_due makes a second start the same day a no-op
