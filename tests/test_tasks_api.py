"""Django's standard Tasks API (django-tasks backport) runs on our Huey consumer through the durable backend."""

import pytest
from django.contrib.auth.models import User

from durable.backend import DurableBackend
from durable.compat import TaskResultStatus, task_backends
from durable.models import Task
from notifications.models import Message
from operations.tasks import TEST_SUBJECT, send_test_email
from testing.plugin import wait_until
from tests.reports_data import OPERATIONS, grant


def test_tasks_go_to_the_durable_backend():
    assert isinstance(task_backends["default"], DurableBackend)


@pytest.mark.django_db
def test_it_runs_in_process_when_called_directly():
    row = send_test_email.call("ops@example.com", requested_by="ada")

    message = Message.objects.get(pk=row)
    assert message.recipients == ["ops@example.com"] and message.subject == TEST_SUBJECT
    assert "requested by ada" in message.body_text()


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_the_operations_page_button_sends_a_test_email_through_a_real_consumer(client, start_consumer, smtp_server):
    client.force_login(grant(User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True), *OPERATIONS))
    start_consumer(smtp_server.url)

    response = client.post("/operations/test-email/", {"to": "me@example.com"}, follow=True)

    assert response.status_code == 200
    [notice] = [str(m) for m in response.context["messages"]]
    assert notice.startswith("Test e-mail to me@example.com queued (task ")
    task_id = notice.rsplit("task ", 1)[1].rstrip(").")
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["me@example.com"] and received.subject == TEST_SUBJECT
    result = wait_until(
        lambda: (r := send_test_email.get_result(task_id)).status == TaskResultStatus.SUCCESSFUL and r,
        message="the task result to be recorded",
    )
    assert result.return_value == Message.objects.get(subject=TEST_SUBJECT).pk
    assert result.worker_ids and result.finished_at
    wait_until(lambda: Message.objects.filter(status="sent").count() == 1, message="the outbox row to be sent")


@pytest.mark.django_db(transaction=True)  # enqueue happens on commit, as in a real request
def test_a_queue_that_is_down_still_queues_the_task_for_the_sweeper(client, own_redis):
    from testing.plugin import use_queue

    use_queue(own_redis.url)
    own_redis.stop()
    client.force_login(grant(User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True), *OPERATIONS))

    response = client.post("/operations/test-email/", {"to": "me@example.com"}, follow=True)

    assert response.status_code == 200
    [notice] = [str(m) for m in response.context["messages"]]
    assert notice.startswith("Test e-mail to me@example.com queued (task ")
    # The row is the truth: the wake-up could not be sent, the sweeper wakes a consumer for it later.
    task = Task.objects.get()
    assert task.status == "queued" and task.kwargs == {"requested_by": "ops"}
