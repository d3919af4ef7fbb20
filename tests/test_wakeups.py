"""Wake-ups (mysite.wakeups): one per transaction, none while a consumer drains, none lost when it stops."""

import pytest
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count
from huey.contrib.djhuey import HUEY

from notifications.models import Message
from testing.plugin import wait_until
from testing.poll import poll_progress
from tests import durable_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_transaction_queues_one_wake_up_however_many_rows(queue_url):
    with transaction.atomic():
        for i in range(3):
            send_mail(f"Hello {i}", "Body", "from@example.com", [f"to{i}@example.com"])
        durable_tasks.noop.enqueue()
        durable_tasks.add.enqueue(1, 2)
        assert HUEY.pending_count() == 0  # nothing before the commit

    [wake_up] = HUEY.pending()  # one real queue entry for five rows of two kinds
    assert wake_up.args == (["durable", "outbox"],)


def test_each_transaction_has_its_own_e_mail_wake_up_and_a_rolled_back_one_none(queue_url):
    with pytest.raises(RuntimeError), transaction.atomic():
        send_mail("Rolled back", "Body", "from@example.com", ["to@example.com"])
        raise RuntimeError("the view failed")
    for _ in range(2):
        with transaction.atomic():
            send_mail("Kept", "Body", "from@example.com", ["to@example.com"])
            send_mail("Kept too", "Body", "from@example.com", ["to@example.com"])

    assert HUEY.pending_count() == 2  # the outbox spreads a burst over the workers by its wake-ups
    assert Message.objects.count() == 4


def test_a_durable_wake_up_waiting_in_the_queue_stands_for_the_commits_after_it(queue_url):
    durable_tasks.noop.enqueue()
    durable_tasks.noop.enqueue()
    assert HUEY.pending_count() == 1  # the worker that runs it finds both, and wakes more workers while more is due

    HUEY.storage.take_wakeup(["durable"])  # a consumer ran it: the next commit wakes again
    durable_tasks.noop.enqueue()
    assert HUEY.pending_count() == 2


@pytest.mark.consumer
@pytest.mark.slow
def test_no_wake_up_while_a_consumer_drains_and_none_lost_when_it_stops(queue_url, start_consumer, smtp_server):
    """One consumer drains a slow relay's backlog; the other is idle. Mail queued meanwhile enqueues nothing;
    the draining consumer is stopped half-way, and the idle one sends the rest, each message once."""
    smtp_server.slow_down(0.3)
    env = {"HUEY_WORKERS": 2, "NOTIFICATIONS_REQUEUE_AFTER_SECONDS": 3600}  # no sweeper to the rescue
    consumers = [start_consumer(smtp_server.url, **env), start_consumer(smtp_server.url, **env)]
    with transaction.atomic():
        for i in range(15):
            send_mail(f"backlog {i}", "Body", "from@example.com", [f"to{i}@example.com"])
    wait_until(lambda: HUEY.is_draining("outbox") and len(smtp_server.messages) >= 1, message="a consumer drains")

    queued_before = HUEY.pending_count()
    send_mail("while draining", "Body", "from@example.com", ["late@example.com"])
    assert HUEY.is_draining("outbox")
    assert HUEY.pending_count() == queued_before  # no wake-up: the draining consumer will see the row

    drainer = next(c for c in consumers if Message.objects.filter(claimed_by__endswith=f":{c.pid}").exists())
    drainer.stop()  # SIGINT while it still holds untried rows: they go back, and it hands over a wake-up
    arrived = smtp_server.wait_for(16, timeout=60)

    subjects = [m.subject for m in arrived]
    assert sorted(subjects) == sorted([f"backlog {i}" for i in range(15)] + ["while draining"])  # each once
    wait_until(lambda: Message.objects.filter(status="sent").count() == 16, message="every row recorded sent")
    assert len(smtp_server.messages) == 16


@pytest.mark.consumer
@pytest.mark.slow
def test_durable_tasks_skip_their_wake_up_while_a_consumer_drains_and_none_is_lost_when_it_stops(
    queue_url, start_consumer, tmp_path
):
    """One consumer runs a backlog of short tasks (its draining marker up); the other is idle. A task queued
    meanwhile enqueues nothing; the draining consumer is stopped half-way, and the idle one runs the rest."""
    from durable.models import Task

    path = str(tmp_path / "runs.txt")
    # Short: under 1 s (DURABLE_BATCH_SECONDS / DURABLE_BATCH_SIZE) however loaded the machine; no sweeper.
    env = {"HUEY_WORKERS": 2, "DURABLE_BATCH_SECONDS": 2, "DURABLE_BATCH_SIZE": 2, "DURABLE_WAKE_AFTER_SECONDS": 3600}
    env["LOG_LEVEL"] = "DEBUG"  # a failure (seen once in CI, under load) shows the last hand-over in its report
    consumers = [start_consumer(**env), start_consumer(**env)]
    with transaction.atomic():
        for i in range(300):  # 15 s of work, 4 s or more on four workers: the stop comes long before its end
            durable_tasks.slow.enqueue(path, 0.05, tag=str(i))
    wait_until(lambda: HUEY.is_draining("durable"), timeout=60, interval=0.01, message="a consumer drains the tasks")

    queued_before = HUEY.pending_count()
    durable_tasks.slow.enqueue(path, 0.05, tag="late")
    assert HUEY.pending_count() == queued_before  # no wake-up: the draining consumer will see the row

    running = wait_until(
        lambda: Task.objects.filter(status="running").values_list("claimed_by", flat=True).first(),
        message="a task held",
    )
    drainer = next(c for c in consumers if running.endswith(f":{c.pid}"))
    drainer.stop()  # SIGINT: it gives back what it has not run, and hands over a wake-up
    # Seen failing twice in CI under load with a fixed 90 s: wait while the idle consumer makes progress, and fail
    # once nothing has moved for 30 s (a lost hand-over: the sweeper is off, leases last 60 s).
    ran = poll_progress(lambda: Task.objects.filter(status="successful").count(), 301, stalled_after=30)
    assert ran == 301, (  # what was left, and where
        list(Task.objects.values_list("status", "claimed_by").annotate(n=Count("id")).order_by("status")),
        f"queued in Huey: {HUEY.pending_count()}",
    )

    ends = [line.split()[1:] for line in open(path) if line.startswith("end")]
    assert sorted(tag for tag, _ in ends) == sorted([str(i) for i in range(300)] + ["late"])  # each once
    idle = next(c for c in consumers if c is not drainer)
    assert [tag for tag, pid in ends if pid == str(idle.pid)]  # the rest was the idle consumer's


@pytest.mark.consumer
@pytest.mark.slow
def test_tasks_queued_while_a_wake_up_runs_a_long_task_start_on_the_idle_workers(queue_url, start_consumer, tmp_path):
    """A wake-up's worker starts a long task. Tasks queued just after it started still start at once on the idle
    workers: the wake-up it runs no longer stands for their commits (else they skipped their own for up to
    ``mysite.wakeup_marks.PENDING_SECONDS`` and waited for the long task to end, with three workers idle)."""
    from durable.models import Task

    path, gate = str(tmp_path / "runs.txt"), str(tmp_path / "gate")
    start_consumer(HUEY_WORKERS=4, DURABLE_RESERVED_WORKERS=0, DURABLE_WAKE_AFTER_SECONDS=3600)  # no sweeper
    try:
        durable_tasks.gated.enqueue(path, gate, tag="first")
        wait_until(lambda: Task.objects.filter(status="running").count() == 1, message="the first task runs")
        for i in range(2):
            durable_tasks.gated.enqueue(path, gate, tag=f"next {i}")
        # The first holds its worker until the gate opens (120 s at most): the others start beside it, or never.
        wait_until(lambda: Task.objects.filter(status="running").count() == 3, message="the next two run beside it")
    finally:
        open(gate, "w").close()
    wait_until(lambda: Task.objects.filter(status="successful").count() == 3, message="all three end")


def test_a_wake_up_runs_whatever_huey_has_revoked(queue_url):
    """Huey does not read the queue for revocations before a wake-up (one round trip less on every pickup):
    nothing in the site revokes one; the rows say what runs."""
    result = durable_tasks.noop.enqueue()
    HUEY._wake_task.revoke()  # every wake-up task, as Huey's revoke_all
    HUEY.execute(HUEY.dequeue())

    result.refresh()
    assert result.status == "SUCCESSFUL"
