"""The test settings plus an app declaring periodic tasks: for the consumers of ``tests/test_durable_periodic.py``.

Huey's consumer asks for the periodic tasks due once a minute (``huey.consumer.Scheduler.periodic_task_seconds``,
a class attribute Huey leaves for overriding): a test of a minute's slot then waited for the next minute and for
each consumer's next check, up to two minutes. These consumers check every ``PERIODIC_CHECK_SECONDS`` instead, so
a slot is taken a few seconds after its minute begins. Only here: Huey enqueues each periodic task due in the
current minute at every check, which mysite's own (``durable.tick``, ``durable.sweep``) absorb (each minute's slot
is taken once, by a conditional UPDATE), but a site's plain Huey periodic tasks would not.
"""

import huey.consumer

from tests.periodic_app import PERIODIC_CHECK_SECONDS
from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.periodic_app"]  # noqa: F405

huey.consumer.Scheduler.periodic_task_seconds = PERIODIC_CHECK_SECONDS
