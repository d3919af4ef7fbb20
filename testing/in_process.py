"""Work a consumer does, done in the test's own process: deliver the outbox, run due tasks, run periodic tasks."""

from datetime import UTC

import pytest
from huey.contrib.djhuey import HUEY


@pytest.fixture
def deliver_now(smtp_server):
    """Deliver everything queued now, in this process, through a real loopback SMTP server.

    Returns the messages that arrived (``testing.smtp.Received``).
    """
    from notifications import delivery
    from notifications.transport import Transport

    def deliver():
        before = len(smtp_server.messages)
        delivery.deliver(
            transport_factory=lambda: Transport(
                "django.core.mail.backends.smtp.EmailBackend", host=smtp_server.host, port=smtp_server.port
            )
        )
        return smtp_server.messages[before:]

    return deliver


@pytest.fixture
def run_tasks(db):
    """Run the durable tasks (Django's Tasks API) that are due now, in this process, as a consumer would.

    ``run_tasks()`` returns how many ran; each outcome is recorded on its row as the consumer records it.
    """
    from durable import claim

    return claim.run_due


@pytest.fixture
def run_periodic(transactional_db):
    """Move the clock to ``at`` and run the periodic tasks due then, in this process, as the consumer would.

    ``run_periodic(at)`` asks Huey which periodic tasks are due at ``at`` (``read_periodic``) and
    runs each through ``HUEY.execute``; while they run, ``django.utils.timezone.now()`` reads
    ``at`` (plus the time since the call). Returns the names of the tasks run; a task that
    raises fails the test.
    """
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")  # as run_huey does: the periodic tasks exist once their modules are imported
    return _run_periodic_at


def _run_periodic_at(at):
    from django.utils import timezone
    from huey import signals

    stamp = at.astimezone(UTC).replace(tzinfo=None) if HUEY.utc else timezone.make_naive(at)
    errors = []

    def on_error(signal, task, exc=None):
        errors.append(exc)

    real_now, offset = timezone.now, at - timezone.now()
    HUEY.signal(signals.SIGNAL_ERROR)(on_error)
    timezone.now = lambda: real_now() + offset
    try:
        due = HUEY.read_periodic(stamp)
        for task in due:
            HUEY.execute(task, timestamp=stamp)
    finally:
        timezone.now = real_now
        HUEY.disconnect_signal(on_error, signals.SIGNAL_ERROR)
    if errors:
        raise errors[0]
    return [task.name for task in due]
