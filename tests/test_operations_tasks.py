"""The operations page's task list and the admin's task actions: filters, permissions, confirmation with the count."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

import durable
from durable.models import CancelRequest, Task
from tests import durable_tasks
from tests.reports_data import grant

pytestmark = pytest.mark.django_db
VIEW, MANAGE = "operations.view_operations", "durable.change_task"


def login(client, *perms, name="op"):
    user = User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    client.force_login(grant(user, *perms))
    return client


def tasks(n, status="queued", task=durable_tasks.add, **values):
    ids = [int(task.enqueue(i, 1).id) for i in range(n)]
    Task.objects.filter(pk__in=ids).update(status=status, **values)
    return ids


def listed(page):
    return {int(pk) for pk in re.findall(r'<tr id="task-(\d+)"', page.content.decode())}


def test_it_lists_tasks_filtered_by_name_status_queue_group_and_arguments(client):
    login(client, VIEW, "durable.view_task")
    queued, failed = tasks(2), tasks(1, "failed")
    grouped = int(durable_tasks.per_customer.enqueue("/tmp/x", "acme").id)
    needle = int(durable_tasks.add.enqueue(424242, 1).id)

    assert listed(client.get("/operations/tasks/", {"status": "failed"})) == set(failed)
    assert listed(client.get("/operations/tasks/", {"name": "add", "status": "queued"})) == {*queued, needle}
    assert listed(client.get("/operations/tasks/", {"group": "customer:acme"})) == {grouped}
    assert listed(client.get("/operations/tasks/", {"q": "424242"})) == {needle}
    assert listed(client.get("/operations/tasks/", {"queue": "default", "name": "per_customer"})) == {grouped}
    page = client.get("/operations/tasks/", {"status": "queued"}).content.decode()
    assert "<b>4</b> task(s) match: status=queued" in page


@pytest.mark.parametrize(
    "query", [{"status": "exploded"}, {"queue": "nowhere"}, {"flow": "x"}, {"flow": "9" * 30}, {"name": "n" * 300}]
)
def test_a_forged_filter_is_a_400_with_the_form_error(client, query):
    login(client, VIEW, MANAGE)
    assert client.get("/operations/tasks/", query).status_code == 400
    assert client.post("/operations/tasks/bulk/", {"action": "cancel", **query}).status_code == 400


def test_without_the_permission_no_button_shows_and_a_post_is_a_403(client):
    login(client, VIEW)
    (pk,) = tasks(1)
    page = client.get("/operations/tasks/").content.decode()
    assert listed(client.get("/operations/tasks/")) == {pk}
    assert 'id="ops-bulk"' not in page and 'class="ops-cancel"' not in page
    assert client.post(f"/operations/tasks/{pk}/cancel/").status_code == 403
    assert client.post("/operations/tasks/bulk/", {"action": "cancel", "confirm": "yes"}).status_code == 403
    assert Task.objects.get(pk=pk).status == "queued"


def test_without_the_operations_permission_the_list_is_a_403(client):
    login(client, MANAGE)
    assert client.get("/operations/tasks/").status_code == 403


def test_one_task_cancelled_and_retried_with_its_buttons(client):
    login(client, VIEW, MANAGE)
    (pk,) = tasks(1)
    assert 'class="ops-cancel"' in client.get("/operations/tasks/").content.decode()

    page = client.post(f"/operations/tasks/{pk}/cancel/?status=queued", follow=True)
    assert page.redirect_chain[-1][0] == "/operations/tasks/?status=queued"
    assert f"Task {pk}: 1 task(s) cancelled." in page.content.decode()
    page = client.post(f"/operations/tasks/{pk}/cancel/", follow=True)
    assert "0 task(s) cancelled; 1 could not be (already finished)" in page.content.decode()
    page = client.post(f"/operations/tasks/{pk}/retry/", follow=True)
    assert f"Task {pk}: 1 task(s) queued again." in page.content.decode()
    assert Task.objects.get(pk=pk).status == "queued"


@pytest.mark.parametrize("path", ["/operations/tasks/999999/cancel/", "/operations/tasks/1/explode/"])
def test_an_unknown_task_or_action_is_a_404(client, path):
    login(client, VIEW, MANAGE)
    tasks(1)
    assert client.post(path).status_code == 404


def test_bulk_cancel_states_the_count_and_filter_first_then_reports_what_it_did(client):
    login(client, VIEW, MANAGE)
    queued, running, done = tasks(3), tasks(1, "running"), tasks(2, "successful")
    other = int(durable_tasks.noop.enqueue().id)
    form = {"action": "cancel", "name": "tests.durable_tasks.add"}

    confirm = client.post("/operations/tasks/bulk/", form).content.decode()
    assert "Cancel 6 tasks matching: name=tests.durable_tasks.add?" in confirm
    assert Task.objects.filter(status="cancelled").count() == 0  # nothing yet

    page = client.post("/operations/tasks/bulk/", {**form, "confirm": "yes"}, follow=True).content.decode()
    assert "4 task(s) cancelled (1 running: their consumers stop them within seconds)" in page
    assert "2 could not be (already finished)" in page
    assert set(Task.objects.filter(status="cancelled").values_list("pk", flat=True)) == set(queued)
    assert set(CancelRequest.objects.values_list("task_id", flat=True)) == set(running)
    assert Task.objects.get(pk=other).status == "queued" and Task.objects.get(pk=done[0]).status == "successful"


def test_bulk_retry_of_the_failed(client):
    login(client, VIEW, MANAGE)
    failed = tasks(2, "failed", attempts=3)
    confirm = client.post("/operations/tasks/bulk/", {"action": "retry", "status": "failed"}).content.decode()
    assert "Retry 2 tasks matching: status=failed?" in confirm
    page = client.post(
        "/operations/tasks/bulk/", {"action": "retry", "status": "failed", "confirm": "yes"}, follow=True
    )
    assert "2 task(s) queued again." in page.content.decode()
    assert set(Task.objects.filter(pk__in=failed).values_list("status", "attempts")) == {("queued", 0)}


def test_a_batch_shows_with_its_members_and_progress(client):
    login(client, VIEW)
    with durable.batch() as b:
        durable_tasks.add.enqueue(1, 2)
        durable.chain(durable.call(durable_tasks.add, 3, 4), durable.call(durable_tasks.add, 5)).enqueue()
    Task.objects.filter(flow_id=b.id).update(status="successful")
    page = client.get("/operations/tasks/", {"flow": b.id})
    assert len(listed(page)) == 3  # its task and its chain's two steps
    assert "1 / 3 tasks ended" in page.content.decode()
    assert f'href="/operations/tasks/?flow={b.id}"' in client.get("/operations/").content.decode()


# --- the admin's actions: the same confirmation, over the ticked rows or all matching the filter ---


def test_the_admin_confirms_with_the_count_and_filter_then_cancels_all_matching(client):
    login(client, MANAGE)
    queued = tasks(5)
    tasks(2, "failed")
    url = "/admin/durable/task/?status__exact=queued"
    form = {"action": "cancel", "index": 0, "select_across": 1, "_selected_action": queued[:1]}

    confirm = client.post(url, form).content.decode()
    assert "Cancel 5 tasks matching: status=queued?" in confirm
    assert not Task.objects.filter(status="cancelled").exists()

    page = client.post(url, {**form, "post": "yes"}, follow=True).content.decode()
    assert "5 task(s) cancelled." in page
    assert set(Task.objects.filter(status="cancelled").values_list("pk", flat=True)) == set(queued)


def test_the_admin_filters_by_group_key(client):
    login(client, MANAGE)
    grouped = int(durable_tasks.per_customer.enqueue("/tmp/x", "acme").id)
    tasks(1)
    page = client.get("/admin/durable/task/", {"group": "customer:acme"}).content.decode()
    assert set(map(int, re.findall(r"/admin/durable/task/(\d+)/change/", page))) == {grouped}
    assert "customer:acme" in page


def test_the_admin_actions_need_the_change_permission(client):
    login(client, "durable.view_task")
    (pk,) = tasks(1)
    page = client.get("/admin/durable/task/").content.decode()
    assert 'value="cancel"' not in page
    client.post("/admin/durable/task/", {"action": "cancel", "index": 0, "_selected_action": [pk], "post": "yes"})
    assert Task.objects.get(pk=pk).status == "queued"


def test_a_running_task_has_a_cancel_button_on_the_operations_page_for_those_allowed(client):
    (pk,) = tasks(1, "running")  # held by no live consumer: listed "lost", and it may be cancelled too
    Task.objects.filter(pk=pk).update(lease_expires_at=timezone.now() + timedelta(minutes=5), claimed_by="gone:1")
    login(client, VIEW, name="viewer")
    assert 'class="ops-cancel"' not in client.get("/operations/").content.decode()

    login(client, VIEW, MANAGE)
    page = client.get("/operations/").content.decode()
    assert f'action="/operations/tasks/{pk}/cancel/?back=page"' in page
    page = client.post(f"/operations/tasks/{pk}/cancel/?back=page", follow=True)
    assert page.redirect_chain[-1][0] == "/operations/"
    assert f"Task {pk}: 1 task(s) cancelled (1 running: their consumers stop them within seconds)." in (
        page.content.decode()
    )
    assert CancelRequest.objects.filter(task_id=pk).exists()


def test_the_admin_confirmation_names_ticked_rows_and_the_search(client):
    login(client, MANAGE)
    ids = tasks(3)
    form = {"action": "retry", "index": 0, "_selected_action": ids[:2]}
    confirm = html.unescape(client.post("/admin/durable/task/?q=7", form).content.decode())
    assert 'Retry 0 tasks matching: search "7" (name, key, group, arguments), ticked on the page?' in confirm
