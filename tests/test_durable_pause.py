"""Pausing a queue (durable.pause): manage.py tasks, the admin, the operations page, and real consumers."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from durable import claim, health, pause
from durable.models import LEASES, PausedQueue, Task
from testing.plugin import wait_until
from testing.poll import poll
from tests import durable_tasks


def tasks(*args):
    out = io.StringIO()
    call_command("tasks", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def staff_client(client, db):
    User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(User.objects.get(username="root"))
    return client


@pytest.mark.django_db
def test_the_command_pauses_lists_and_resumes_a_queue():
    durable_tasks.noop.enqueue()

    assert tasks("pause", "default") == "Queue default paused.\n"
    assert tasks("pause", "default") == "Queue default was already paused.\n"
    assert re.fullmatch(r"default: paused since [\d-]+ [\d:]+ UTC, 1 queued, 0 running\n", tasks("list"))
    assert PausedQueue.objects.get().paused_by == "manage.py tasks"
    assert tasks("resume", "default") == "Queue default resumed.\n"
    assert tasks("resume", "default") == "Queue default was not paused.\n"
    assert tasks("list") == "default: running, 1 queued, 0 running\n"


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["pause", "resume"])
def test_an_unknown_queue_is_a_clear_error_listing_the_queues(action):
    with pytest.raises(CommandError, match=r"no queue named 'nope'; the queues are: default"):
        tasks(action, "nope")
    assert not PausedQueue.objects.exists()


@pytest.mark.django_db
def test_a_paused_queue_takes_enqueues_and_runs_nothing_until_resumed():
    pause.pause("default")
    result = durable_tasks.add.enqueue(1, 2)

    assert claim.run_due() == 0
    assert Task.objects.get(pk=result.id).status == "queued"

    pause.resume("default")
    assert claim.run_due() == 1
    assert durable_tasks.add.get_result(result.id).return_value == 3


@pytest.mark.django_db
def test_tasks_waiting_in_a_paused_queue_are_not_late_for_health_or_the_sweeper():
    result = durable_tasks.noop.enqueue()
    Task.objects.filter(pk=result.id).update(due_at=timezone.now() - timedelta(hours=1))
    assert not health.tasks(timezone.now())["ok"] and LEASES.due(30).count() == 1

    pause.pause("default")

    assert health.tasks(timezone.now())["ok"] and LEASES.due(30).count() == 0


def test_the_admin_pauses_and_resumes_and_refuses_an_unknown_queue(staff_client):
    page = staff_client.post("/admin/durable/pausedqueue/add/", {"name": "default", "_save": "1"})
    assert page.status_code == 302 and PausedQueue.objects.get().paused_by == "root"

    bad = staff_client.post("/admin/durable/pausedqueue/add/", {"name": "nope", "_save": "1"})
    assert bad.status_code == 200 and b"Select a valid choice" in bad.content

    HUEY.storage.flush_queue()
    page = staff_client.post(
        "/admin/durable/pausedqueue/",
        {"action": "resume", "index": "0", "_selected_action": "default"},
    )
    assert page.status_code == 302 and not PausedQueue.objects.exists()


def test_the_operations_page_shows_each_queue_with_pause_and_resume(staff_client):
    durable_tasks.noop.enqueue()
    page = staff_client.get("/operations/").content.decode()
    row = re.search(r'<tr id="queue-default">.*?</tr>', page, re.S).group(0)
    assert "running" in row and ">Pause</button>" in row and "<td>1</td>" in row

    form = re.search(r'<form method="post" action="([^"]+)">', row).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', row))
    assert staff_client.post(form, fields).status_code == 302
    assert PausedQueue.objects.filter(name="default").exists()

    row = re.search(r'<tr id="queue-default">.*?</tr>', staff_client.get("/operations/").content.decode(), re.S)
    assert "paused" in row.group(0) and ">Resume</button>" in row.group(0)
    form = re.search(r'<form method="post" action="([^"]+)">', row.group(0)).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', row.group(0)))
    assert staff_client.post(form, fields).status_code == 302
    assert not PausedQueue.objects.exists()


def marks(path):
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_pause_and_resume_hold_on_two_consumers_and_running_tasks_finish(queue_url, start_consumer, tmp_path):
    path = tmp_path / "marks"
    running = durable_tasks.slow.enqueue(str(path), 2, tag="running")
    start_consumer(HUEY_WORKERS=3)
    start_consumer(HUEY_WORKERS=3)
    wait_until(lambda: "start running" in " ".join(marks(path)), message="the first task to start")

    pause.pause("default")
    held = [durable_tasks.slow.enqueue(str(path), 0.1, tag=f"held{i}").id for i in range(6)]

    wait_until(lambda: Task.objects.get(pk=running.id).status == "successful", message="the running task to finish")
    wait_until(lambda: HUEY.pending_count() == 0, message="the consumers to take the wake-ups")
    assert not poll(lambda: Task.objects.filter(pk__in=held).exclude(status="queued").exists(), 2.0, 0.05)

    pause.resume("default")
    wait_until(lambda: Task.objects.filter(pk__in=held, status="successful").count() == 6, message="the held tasks")
