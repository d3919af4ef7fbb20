"""Durable tasks in the admin: list, filter, read with attempts, retry and cancel."""

import re

import pytest
from django.contrib.auth.models import User

from durable import claim
from durable.models import Task
from tests import durable_tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client):
    User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(User.objects.get(username="root"))
    return client


def listed(content):
    """The ids in the change list's rows."""
    return {int(pk) for pk in re.findall(rb"/admin/durable/task/(\d+)/change/", content)}


def test_it_lists_and_filters_by_status_and_name(staff_client):
    add = int(durable_tasks.add.enqueue(1, 2).id)
    claim.run_due()
    noop = int(durable_tasks.noop.enqueue().id)

    page = staff_client.get("/admin/durable/task/")
    assert page.status_code == 200 and listed(page.content) == {add, noop}
    assert listed(staff_client.get("/admin/durable/task/?status__exact=queued").content) == {noop}
    assert listed(staff_client.get("/admin/durable/task/?name=tests.durable_tasks.add").content) == {add}


def test_it_shows_a_task_with_its_attempts_and_errors(staff_client, tmp_path):
    result = durable_tasks.flaky.enqueue(str(tmp_path / "marks"), 1)
    claim.run_due()

    page = staff_client.get(f"/admin/durable/task/{result.id}/change/")

    assert page.status_code == 200
    assert b"failing on purpose, attempt 1" in page.content and b"builtins.RuntimeError" in page.content


def test_retry_queues_a_failed_task_again_and_cancel_stops_a_queued_one(staff_client):
    failed = Task.objects.get(pk=durable_tasks.add.enqueue(1, 2).id)
    Task.objects.filter(pk=failed.pk).update(status="failed", attempts=3, last_error="boom")
    queued = Task.objects.get(pk=durable_tasks.noop.enqueue().id)

    staff_client.post(
        "/admin/durable/task/", {"action": "retry", "_selected_action": [failed.pk, queued.pk], "post": "yes"}
    )
    staff_client.post("/admin/durable/task/", {"action": "cancel", "_selected_action": [queued.pk], "post": "yes"})

    failed.refresh_from_db()
    queued.refresh_from_db()
    assert failed.status == "queued" and failed.attempts == 0
    assert queued.status == "cancelled"
    claim.run_due()
    assert Task.objects.get(pk=failed.pk).status == "successful"
    assert Task.objects.get(pk=queued.pk).status == "cancelled"


def test_a_tampered_selection_is_a_400(staff_client):
    response = staff_client.post("/admin/durable/task/", {"action": "cancel", "_selected_action": ["1 OR 1=1"]})
    assert response.status_code == 400


def test_periodic_tasks_are_listed_read_only(staff_client):
    from django.utils import timezone

    from durable.models import Periodic

    Periodic.objects.create(name="app.tasks.nightly", last_slot=timezone.now())

    assert b"app.tasks.nightly" in staff_client.get("/admin/durable/periodic/").content
    assert staff_client.get("/admin/durable/periodic/add/").status_code == 403
