"""The daily cleanup prunes finished django.tasks records, which Huey's backend (TASKS_BACKEND=huey) keeps forever."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from huey.contrib.djhuey import HUEY

from operations import task_results
from operations.tasks import send_test_email


@pytest.fixture(autouse=True)
def _hueys_backend(settings):
    """These records exist only with Huey's HueyBackend (TASKS_BACKEND=huey); the default is durable."""
    settings.TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend"}}


@pytest.mark.django_db(transaction=True)
def test_it_prunes_finished_records_past_retention_and_keeps_the_rest(settings):
    settings.OPERATIONS_TASK_RESULT_RETENTION_DAYS = 7
    done = send_test_email.enqueue("a@example.com")
    HUEY.execute(HUEY.dequeue())  # what a consumer worker does
    waiting = send_test_email.enqueue("b@example.com")
    HUEY.put("unrelated", {"kept": True})
    assert send_test_email.get_result(done.id).status == TaskResultStatus.SUCCESSFUL

    assert task_results.prune() == 0  # finished just now
    assert task_results.prune(now=timezone.now() + timedelta(days=8)) == 1

    with pytest.raises(Exception, match=done.id):
        send_test_email.get_result(done.id)
    assert send_test_email.get_result(waiting.id).status == TaskResultStatus.READY
    assert HUEY.get("unrelated", peek=True) == {"kept": True}


@pytest.mark.django_db(transaction=True)
def test_the_cleanup_command_prunes_them_too(settings, capsys):
    from django.core.management import call_command

    settings.OPERATIONS_TASK_RESULT_RETENTION_DAYS = 0
    send_test_email.enqueue("a@example.com")
    HUEY.execute(HUEY.dequeue())

    call_command("cleanup")

    assert "Pruned 1 finished task results" in capsys.readouterr().out
