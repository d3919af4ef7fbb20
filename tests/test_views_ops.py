"""The operations page: staff only, and it shows live numbers while a batch drains through a real consumer."""

import pytest
from django.contrib.auth.models import User
from django.core.mail import send_mail

from notifications.models import Message
from testing.plugin import wait_until


@pytest.fixture
def staff(client):
    user = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
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
    assert "operations.tasks.daily_cleanup" in page and "durable.sweep" in page
    assert 'id="ops-reports"' in page


@pytest.mark.django_db
def test_hueys_own_dashboard_is_in_the_admin(client):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))

    response = client.get("/admin/hueystats/hueydashboard/")

    assert response.status_code == 200
    assert "Pending" in response.content.decode()


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
    wait_until(
        lambda: "deliver" in client.get("/operations/").content.decode().split('id="ops-runs"')[1],
        timeout=10,
        message="the delivery runs to reach Huey's stats",
    )
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


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_tasks_of_a_killed_consumer_show_as_lost_not_running(client, staff, start_consumer, smtp_server):
    from operations import dashboard

    for i in range(200):
        send_mail(f"batch {i}", "Body", "from@example.com", ["to@example.com"])
    smtp_server.slow_down(0.05)
    consumer = start_consumer(smtp_server.url, HUEY_WORKERS=2)
    held = wait_until(
        lambda: [t for t in dashboard.context()["running"] if t["task"] == "deliver"],
        message="a delivery to be running",
    )
    ghost = held[0]["id"]
    consumer.kill()
    smtp_server.slow_down(0)
    start_consumer(smtp_server.url, HUEY_WORKERS=2)
    wait_until(lambda: dashboard.context()["consumer_alive"], message="the new consumer to beat")

    section = running_section(client.get("/operations/").content.decode())

    lost_rows = [row for row in section.split("<tr") if ghost[:9] in row]
    assert len(lost_rows) == 1 and "lost, will be retried" in lost_rows[0]
    page = client.get("/operations/")  # the tile and the list of one page (a second look may see other tasks)
    tile = page.content.decode().split('id="tile-running">')[1].split("</li>")[0]
    assert int(tile.split("<b>")[1].split("<")[0]) == len(page.context["running"])
    wait_until(lambda: Message.objects.filter(status="sent").count() == 200, timeout=60, message="all sent")


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_tasks_api_tasks_are_listed_by_their_own_name_not_hueys_run(
    client, staff, start_consumer, smtp_server, settings
):
    """With TASKS_BACKEND=huey every standard-API task is one Huey task named "run": show the task's own name."""
    settings.TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend"}}
    start_consumer(smtp_server.url, TASKS_BACKEND="huey")
    client.post("/operations/test-email/", {"to": "ops@example.com"})

    wait_until(lambda: smtp_server.messages, message="the test e-mail to arrive")
    runs = wait_until(
        lambda: "send_test_email" in (s := client.get("/operations/").content.decode().split('id="ops-runs"')[1]) and s,
        timeout=10,
        message="the run to reach Huey's stats",
    )
    assert ">operations.tasks.send_test_email</td>" in runs
    assert ">run</td>" not in runs


@pytest.mark.django_db
def test_the_queue_is_shown_as_its_url(client, staff, tmp_path):
    from operations import heartbeat
    from testing.plugin import use_queue

    storage = use_queue(f"sqlite:///{tmp_path / 'q.sqlite3'}")

    assert heartbeat.queue_label(storage) == f"sqlite:///{tmp_path / 'q.sqlite3'}"
