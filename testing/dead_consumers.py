"""A real process that claims rows as a consumer does and is killed (-9) holding them."""

import subprocess
import sys
from dataclasses import dataclass

import pytest

from testing.consumer import BASE_DIR, consumer_env, database_url
from testing.queues import current_queue_url


@dataclass
class DeadConsumer:
    """A consumer process that claimed outbox rows and was killed (-9) holding their lease."""

    pid: int
    ids: list


_CLAIM_AND_DIE = """
import os, signal, sys, django
django.setup()
from notifications import delivery
rows = delivery.claim(limit=int(sys.argv[1]) or None)
print(os.getpid(), *(r.pk for r in rows), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def dead_consumer(transactional_db):
    """Factory: ``dead_consumer(limit=None, expired=True)`` -> ``DeadConsumer(pid, ids)``.

    A real process on this host claims up to ``limit`` due outbox rows (as a consumer does)
    and is killed with SIGKILL holding them. With ``expired=True`` the clock has also passed
    its lease, so the sweeper takes them back; with ``expired=False`` only a consumer starting
    on this host (which sees the pid is gone) does.
    """

    from notifications.models import Message

    def die(limit=None, expired=True):
        return _die_holding(_CLAIM_AND_DIE, Message, limit or 0, expired)

    return die


def _die_holding(script, model, limit, expired):
    """Run ``script`` (claims up to ``limit`` rows of ``model``, prints its pid and their ids, SIGKILLs itself)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    env = consumer_env(database_url(connection.settings_dict), current_queue_url(), "memorymail://")
    proc = subprocess.run(
        [sys.executable, "-c", script, str(limit)], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != -9:
        pytest.fail(f"the consumer to kill did not claim and die as planned:\n{proc.stderr[-2000:]}")
    pid, *ids = map(int, proc.stdout.split())
    if expired:
        model.objects.filter(pk__in=ids).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    return DeadConsumer(pid=pid, ids=ids)


# --- durable tasks: a consumer that died holding tasks (issue 10) ------------------------------------


_CLAIM_TASKS_AND_DIE = """
import os, signal, sys, django
django.setup()
from durable import claim
rows = claim.claim(int(sys.argv[1]))
print(os.getpid(), *(r.pk for r in rows), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def dead_task_consumer(transactional_db):
    """Factory: ``dead_task_consumer(limit=1, expired=False)`` -> ``DeadConsumer(pid, ids)``, for durable tasks.

    A real process on this host claims up to ``limit`` due durable tasks, as a consumer's worker does
    when it starts running one, and is killed with SIGKILL holding them. Then ``durable.lifeline.recover()``
    is what a consumer starting on this host does (it sees the pid is gone); with ``expired=True`` the
    lease has also lapsed, and ``durable.lifeline.sweep()`` is what any consumer does once a minute.
    """

    from durable.models import Task

    def die(limit=1, expired=False):
        return _die_holding(_CLAIM_TASKS_AND_DIE, Task, limit, expired)

    return die
