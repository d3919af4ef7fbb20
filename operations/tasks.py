"""Operations' tasks: the daily cleanup (a durable periodic task), the consumer heartbeat hooks, the test e-mail."""

import datetime
import logging

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from huey import signals
from huey.contrib.djhuey import HUEY, on_shutdown, on_startup

from durable.compat import task
from durable.periodic import periodic
from operations import cleanup, emails, heartbeat, logs, sentry

logger = logging.getLogger(__name__)
HUEY.signal(signals.SIGNAL_EXECUTING)(logs.task_started)
HUEY.signal(*logs.ENDINGS)(logs.task_ended)
HUEY.pre_execute(name="operations.sentry_headers")(sentry.drop_trace_headers)
TEST_SUBJECT = emails.TEST_SUBJECT


def at_site_midnight(utc_now):
    """Huey validator: true in the minute after midnight in the site's TIME_ZONE (Huey passes naive UTC)."""
    local = timezone.localtime(utc_now.replace(tzinfo=datetime.UTC))
    return local.hour == 0 and local.minute == 0


# Huey's clock ticks each minute on every consumer (``durable.tasks.tick``); the slot claim of
# ``durable.periodic`` runs this once per site-local midnight across consumers, and once after a downtime
# that spanned one or more midnights (missed="once"), as a durable task: retried, recovered after a kill -9,
# shown on the operations page by its own name.
@periodic(at_site_midnight, missed="once")
@task()
def daily_cleanup():
    """Prune what is past retention; returns ``{label: count}``."""
    return cleanup.run()


@on_startup(name="operations.heartbeat")
def start_heartbeat():
    """Each consumer process records host, pid and last-seen while it runs (see ``operations.heartbeat``)."""
    if HUEY.immediate:
        return
    try:
        heartbeat.worker_started(HUEY.storage, settings.HUEY.get("consumer", {}).get("workers", 1))
    finally:
        close_old_connections()


@on_shutdown(name="operations.heartbeat")
def stop_heartbeat():
    if HUEY.immediate:
        return
    try:
        heartbeat.worker_stopped()
    finally:
        close_old_connections()


@task()
def send_test_email(to, requested_by=""):
    """Send a test e-mail through the outbox (written with Django's standard Tasks API).

    Returns the outbox row id (``outbox_id``, noted on the message by the project's e-mail backend), so the
    caller can follow it on the operations page.
    """
    message = emails.test_message(to, requested_by)
    message.send()
    row = getattr(message, "outbox_id", None)  # the outbox backend notes the row it stored
    logger.info("test e-mail to %s queued as outbox %s", to, row)
    return row
