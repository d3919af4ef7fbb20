"""A worker holds only what it runs (issue 16, point 5): real consumers, a task shown running is running."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from durable.models import Task
from testing.plugin import wait_until
from tests import durable_tasks

pytestmark = [pytest.mark.consumer, pytest.mark.django_db(transaction=True)]

CONSUMERS, TASK_WORKERS = 2, 1  # HUEY_WORKERS=2 each, one of them kept for e-mail (DURABLE_RESERVED_WORKERS)


def started_tags(path):
    lines = path.read_text().splitlines() if path.exists() else []
    return {line.split()[1] for line in lines if line.startswith("start")}


@pytest.mark.slow
def test_a_task_shown_running_is_running_and_none_waits_behind_another(queue_url, start_consumer, tmp_path):
    path = tmp_path / "marks"
    warm = [durable_tasks.add.enqueue(i, i).id for i in range(60)]  # short tasks: the workers learn to batch
    for _ in range(CONSUMERS):
        start_consumer(HUEY_WORKERS=2)
    wait_until(lambda: Task.objects.filter(pk__in=warm, status="successful").count() == 60, message="the short tasks")
    with transaction.atomic():
        ids = [durable_tasks.slow.enqueue(str(path), 1.5, tag=str(i)).id for i in range(6)]
    seen_running = set()

    def check():
        running = list(Task.objects.filter(pk__in=ids, status=Task.Status.RUNNING))
        tags = started_tags(path)
        assert len(running) <= CONSUMERS * TASK_WORKERS, f"{len(running)} shown running on 2 task workers"
        for row in running:
            seen_running.add(row.pk)
            result = durable_tasks.slow.get_result(str(row.pk))
            assert result.worker_ids[-1] == row.claimed_by  # filled while it runs
            if timezone.now() - row.claimed_at > timedelta(seconds=0.8):
                assert row.kwargs["tag"] in tags, f"task {row.pk} shown running but waiting behind another"
        return Task.objects.filter(pk__in=ids, status=Task.Status.SUCCESSFUL).count() == 6

    wait_until(check, timeout=60, interval=0.1, message="the six long tasks to succeed")
    assert seen_running  # the check saw them run
    assert set(Task.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
