"""Slow work never holds up e-mail: a new e-mail reaches the relay while long CPU-bound tasks occupy a real
4-worker consumer, without waiting for one of them to end (docs/tasks.md, "Slow work and e-mail"). How fast it
arrives meanwhile is measured by ``make bench`` (section 10), not asserted here."""

import time

import pytest
from django.core.mail import send_mail
from huey.contrib.djhuey import HUEY

from durable import claim
from durable.models import Task
from testing.plugin import wait_until
from tests import durable_tasks

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 4
LONG = 20  # seconds each task would run: longer than the test; teardown stops them sooner


@pytest.fixture
def stop_tasks(tmp_path, start_consumer):
    """The file whose existence ends the long tasks: made at teardown, before the consumer is stopped."""
    path = tmp_path / "stop"
    yield path
    path.touch()


def running():
    return Task.objects.filter(status=Task.Status.RUNNING).count()


def occupy(start_consumer, smtp_server, stop_tasks, busy, **env):
    """Queue 20 long tasks, start a 4-worker consumer, and wait until ``busy`` of them run."""
    for _ in range(20):
        durable_tasks.spin.enqueue(str(stop_tasks), LONG)
    start_consumer(email_url=smtp_server.url, HUEY_WORKERS=WORKERS, **env)
    wait_until(lambda: running() == busy, timeout=15, message=f"{busy} long tasks to run")
    if busy < WORKERS:
        # Steady state: the start-up's periodic tasks ran and the wake-ups of tasks that may not run were taken.
        wait_until(lambda: HUEY.pending_count() == 0, timeout=15, message="the queue to be empty")
    time.sleep(0.2)


def send():
    send_mail("isolation", "Did you wait?", "site@example.com", ["ada@example.com"])


@pytest.mark.consumer
@pytest.mark.slow
@pytest.mark.parametrize(
    "env, busy",
    [
        ({"DURABLE_GROUP_LIMITS": "isolation=20"}, WORKERS - 1),  # the default rule: one worker kept for e-mail
        ({"DURABLE_RESERVED_WORKERS": 0, "DURABLE_GROUP_LIMITS": "isolation=3"}, 3),  # a group cap does it too
    ],
    ids=["reserved-worker", "group-cap"],
)
def test_it_delivers_e_mail_while_long_tasks_occupy_the_workers(
    queue_url, start_consumer, smtp_server, stop_tasks, env, busy
):
    occupy(start_consumer, smtp_server, stop_tasks, busy, **env)

    send()
    wait_until(lambda: smtp_server.messages, timeout=LONG / 2, message="the e-mail to arrive while the tasks run")

    # Without the rule the e-mail waits until a long task ends (LONG s; the next test): here none had ended.
    assert not Task.objects.filter(status=Task.Status.SUCCESSFUL).exists()
    assert running() == busy  # the long tasks still ran all along
    assert Task.objects.filter(status=Task.Status.QUEUED).count() == 20 - busy


@pytest.mark.consumer
@pytest.mark.slow
def test_without_the_rule_e_mail_waits_for_a_long_task_to_end(queue_url, start_consumer, smtp_server, stop_tasks):
    occupy(
        start_consumer, smtp_server, stop_tasks, WORKERS, DURABLE_RESERVED_WORKERS=0, DURABLE_GROUP_LIMITS="isolation=4"
    )

    send()
    time.sleep(3)
    assert smtp_server.messages == []  # all four workers run long tasks: the e-mail waits (a minute, in real life)

    stop_tasks.touch()  # the long tasks end
    wait_until(lambda: smtp_server.messages, timeout=10, message="the e-mail to arrive once a worker is free")


def test_a_worker_past_the_task_workers_runs_no_task_and_a_wake_up_follows(settings, tmp_path):
    settings.HUEY = {**settings.HUEY, "consumer": {**settings.HUEY["consumer"], "workers": 2}}
    result = durable_tasks.add.enqueue(1, 2)
    HUEY.flush()  # the enqueue's own wake-up
    assert claim.task_workers() == 1 and claim._enter()  # the one task worker is busy

    try:
        assert claim.run_due() == 0  # this worker stays free for e-mail
        assert Task.objects.get(pk=result.id).status == Task.Status.QUEUED
    finally:
        claim._leave()  # the busy one leaves: the task it may not have seen gets a wake-up

    assert HUEY.pending_count() == 1
    assert claim.run_due() == 1
