"""pytest fixtures for teams building on mysite: real SMTP, a real consumer, real queues.

Enable with ``pytest_plugins = ["testing.plugin"]`` in your ``conftest.py``;
``docs/testing.md`` shows each fixture in use. This module is the plugin's entry point: the fixtures live in
the modules named for what they do, and are all here, under the names the docs give them.

- ``testing.isolation``: each test process's own test database, each test's own files and mail backend
- ``testing.flush``: a transactional test's flush restores content types and permissions in one INSERT each
- ``testing.queues``: each test's own empty queue (SQLite or Redis); ``queue_url``, ``redis_url``, ``use_queue``
- ``testing.services``: ``smtp_server``, ``own_redis``, ``require_service``, ``wait_until``
- ``testing.processes``: ``start_consumer``, ``start_site``
- ``testing.dead_consumers``: ``dead_consumer``, ``dead_task_consumer``
- ``testing.in_process``: ``deliver_now``, ``run_tasks``, ``run_periodic``
"""

from testing.dead_consumers import DeadConsumer, dead_consumer, dead_task_consumer
from testing.flush import _flush_snapshot, _quick_flush
from testing.in_process import deliver_now, run_periodic, run_tasks
from testing.isolation import (
    _nothing_held_after_the_test,
    _outbox_backend,
    _private_paths,
    django_db_modify_db_settings,
)
from testing.processes import pytest_runtest_makereport, start_consumer, start_site
from testing.queues import _private_queue, current_queue_url, queue_url, redis_url, use_queue, with_queue_name
from testing.services import ci, own_redis, require_service, smtp_server, wait_until

_ci = ci  # the name tests used before the split

__all__ = [
    "DeadConsumer",
    "_nothing_held_after_the_test",
    "_outbox_backend",
    "_private_paths",
    "_private_queue",
    "_quick_flush",
    "_flush_snapshot",
    "ci",
    "current_queue_url",
    "dead_consumer",
    "dead_task_consumer",
    "deliver_now",
    "django_db_modify_db_settings",
    "own_redis",
    "pytest_runtest_makereport",
    "queue_url",
    "redis_url",
    "require_service",
    "run_periodic",
    "run_tasks",
    "smtp_server",
    "start_consumer",
    "start_site",
    "use_queue",
    "wait_until",
    "with_queue_name",
]
