"""The operations page: staff only, and it shows live numbers while a batch drains through a real consumer."""

import pytest
from django.contrib.auth.models import User
from django.core.mail import send_mail

from notifications.models import Message
from testing.plugin import wait_until
from tests.reports_data import OPERATIONS, grant


@pytest.fixture
def staff(client):
    user = grant(User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True), *OPERATIONS)
    client.force_login(user)
    return user


@pytest.mark.django_db
def test_it_sends_anonymous_visitors_to_the_admin_login(client):
    response = client.get("/operations/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/operations/")


@pytest.mark.django_db
def test_it_refuses_signed_in_non_staff(client):
    client.force_login(User.objects.create_user("joe", "joe@example.com", "pw"))

    assert client.get("/operations/").status_code == 403
    assert client.post("/operations/test-email/", {"to": "x@example.com"}).status_code == 403


@pytest.mark.django_db
def test_it_is_linked_from_the_admin_index(client, staff):
    response = client.get("/admin/")

    assert 'href="/operations/"' in response.content.decode()


@pytest.mark.django_db
def test_it_says_no_consumer_runs_when_none_does(client, staff):
    send_mail("Waiting", "Body", "from@example.com", ["to@example.com"])

    page = client.get("/operations/").content.decode()

    assert "none running" in page
    assert "No consumer has reported" in page
    assert 'id="outbox-queued">1<' in page
    assert "operations.tasks.daily_cleanup" in page and "webhooks.tasks.kick" in page  # the periodic ones
    assert 'id="ops-reports"' in page


@pytest.mark.django_db
def test_hueys_stats_dashboard_is_gone_and_nothing_reads_hueys_internals(client):
    from pathlib import Path

    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))

    assert client.get("/admin/hueystats/hueydashboard/").status_code == 404
    assert client.get("/operations/").status_code == 200
    for module in ("dashboard", "activity", "metrics", "health"):
        source = (Path(__file__).parent.parent / "operations" / f"{module}.py").read_text()
        assert "_stats" not in source and "_registry" not in source, module


@pytest.mark.django_db
def test_a_bad_test_email_address_answers_with_the_form(client, staff):
    response = client.post("/operations/test-email/", {"to": "not-an-address"})

    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_it_shows_live_numbers_while_a_batch_drains(client, staff, start_consumer, smtp_server):
    for i in range(120):
        send_mail(f"batch {i}", "Body", "from@example.com", ["to@example.com"])
    smtp_server.slow_down(0.05)
    consumer = start_consumer(smtp_server.url, HUEY_WORKERS=2)

    wait_until(lambda: 10 < len(smtp_server.messages) < 110, message="the batch to be draining")
    during = client.get("/operations/").content.decode()
    assert f"<td>{consumer.pid}</td>" in during
    assert "alive" in during
    sent_so_far = int(during.split('id="outbox-sent">')[1].split("<")[0])
    assert 0 < sent_so_far < 120

    wait_until(lambda: Message.objects.filter(status="sent").count() == 120, timeout=60, message="all sent")
    after = client.get("/operations/").content.decode()
    assert 'id="outbox-sent">120<' in after
    assert "e-mails sent (120)" in after


@pytest.mark.django_db
def test_it_lists_reports_in_flight(client, staff):
    from reports.models import Report

    Report.objects.create(owner=staff, type="signups-per-day", params_key="a", status="running", progress=40)
    Report.objects.create(owner=staff, type="email-delivery", params_key="b", status="done", progress=100)

    section = client.get("/operations/").content.decode().split('id="ops-reports"')[1].split("</div>")[0]

    assert "40 %" in section and "running" in section
    assert "done" not in section


@pytest.mark.django_db(transaction=True)
def test_it_shows_mail_waiting_for_the_rate_limit_and_the_rate(client, staff, settings):
    from notifications import delivery

    settings.EMAIL_RATE_LIMIT = "30/m"
    for i in range(5):
        send_mail(f"Hi {i}", "Body", "from@example.com", ["to@example.com"])
    delivery.deliver()  # one slot now; the rest wait 2 s each

    page = client.get("/operations/").content.decode()

    assert '<td id="outbox-throttled">4</td>' in page
    assert '<td id="outbox-sent-last-minute">1 (limit 30/m)</td>' in page


def running_section(page):
    return page.split('id="ops-running"')[1].split("</div>")[0]


def tile(page, name):
    return int(page.split(f'id="tile-{name}">')[1].split("<b")[1].split(">")[1].split("<")[0])


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_after_a_kill_9_the_page_shows_the_task_by_its_name_and_nothing_stays_running(
    client, staff, start_consumer, tmp_path
):
    """Issue 21.4: a user's task names and their real state; nothing of the wake-up machinery (``run_due``)."""
    from durable.models import Task
    from tests import durable_tasks

    marks = tmp_path / "marks"
    first = start_consumer(HUEY_WORKERS=2)
    result = durable_tasks.slow.enqueue(str(marks), 4, tag="work")
    wait_until(lambda: marks.exists() and "start" in marks.read_text(), message="the task to start")
    during = client.get("/operations/").content.decode()
    assert tile(during, "running") == 1 and ">tests.durable_tasks.slow<" in running_section(during)
    first.kill()  # kill -9 while it runs

    second = start_consumer(HUEY_WORKERS=2)  # same host: its start-up sees the dead pid and runs it again
    wait_until(lambda: Task.objects.get(pk=result.id).status == "successful", timeout=60, message="the re-run")
    second.wait_for_log(f"task {result.id} tests.durable_tasks.slow succeeded")

    page = client.get("/operations/").content.decode()
    assert tile(page, "running") == 0
    assert "Nothing running." in running_section(page) and "lost, will be retried" not in running_section(page)
    runs = page.split('id="ops-runs"')[1]
    assert runs.count(">tests.durable_tasks.slow</a>") == 2  # the lost attempt and the one that succeeded
    assert "lost (its consumer died)" in runs and ">Successful<" in runs
    assert "run_due" not in page


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_a_killed_consumers_task_shows_as_lost_until_it_runs_again(client, staff, start_consumer, tmp_path):
    from durable.models import Task
    from tests import durable_tasks

    marks = tmp_path / "marks"
    consumer = start_consumer(HUEY_WORKERS=2)
    result = durable_tasks.slow.enqueue(str(marks), 30, tag="work")
    wait_until(lambda: marks.exists() and "start" in marks.read_text(), message="the task to start")
    consumer.kill()

    page = client.get("/operations/").content.decode()  # no consumer yet to take it back: its row says "running"
    assert Task.objects.get(pk=result.id).status == "running"
    assert tile(page, "running") == 0
    (row,) = [r for r in running_section(page).split("<tr") if "tests.durable_tasks.slow" in r]
    assert "lost, will be retried" in row


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_tasks_api_tasks_are_listed_by_their_own_name(client, staff, start_consumer, smtp_server):
    start_consumer(smtp_server.url)
    client.post("/operations/test-email/", {"to": "ops@example.com"})

    wait_until(lambda: smtp_server.messages, message="the test e-mail to arrive")
    runs = client.get("/operations/").content.decode().split('id="ops-runs"')[1]
    assert ">operations.tasks.send_test_email</a>" in runs and ">Successful<" in runs
    assert "run_due" not in runs and ">run<" not in runs


@pytest.mark.django_db
def test_the_queue_is_shown_as_its_url(client, staff, tmp_path):
    from operations import heartbeat
    from testing.plugin import use_queue

    storage = use_queue(f"sqlite:///{tmp_path / 'q.sqlite3'}")

    assert heartbeat.queue_label(storage) == f"sqlite:///{tmp_path / 'q.sqlite3'}"
