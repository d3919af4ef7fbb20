"""GET /metrics: Prometheus text read from the rows, parsed back by prometheus_client's own parser."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import Attempt, Message
from operations import cleanup
from operations.models import Heartbeat
from reports.models import Report
from tests.reports_data import OPERATIONS, grant

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-scrape-token"


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client, token=TOKEN):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def message(status="queued", due=None, reason="", finished=None):
    now = timezone.now()
    return Message.objects.create(
        status=status,
        from_email="noreply@example.com",
        recipients=["to@example.com"],
        subject="Hi",
        raw=b"x",
        due_at=due or now,
        reason=reason,
        finished_at=finished,
    )


def attempt(row, outcome, duration, started=None):
    return Attempt.objects.create(
        message=row,
        started_at=started or timezone.now(),
        duration=duration,
        outcome=outcome,
        host="h",
        pid=1,
    )


def test_the_numbers_are_the_rows(client):
    now = timezone.now()
    sent = [message("sent", finished=now) for _ in range(3)]
    message("failed", finished=now)
    old_due = message("queued", due=now - timedelta(seconds=300))
    message("queued", due=now + timedelta(hours=1))  # waiting out a back-off: not due
    for _ in range(2):
        message("queued", due=now + timedelta(seconds=30), reason="relay asked to slow down")
    for row, duration in zip(sent, (0.03, 0.2, 4.0), strict=True):
        attempt(row, "sent", duration)
    attempt(old_due, "retry", 0.7)
    attempt(old_due, "deferred", 0.02)
    owner = User.objects.create_user("ann")
    for status, rtype in [("queued", "signups"), ("done", "signups"), ("done", "outbox"), ("done", "signups")]:
        Report.objects.create(owner=owner, type=rtype, status=status, enqueued_at=now - timedelta(seconds=90))
    Heartbeat.objects.create(host="web1", pid=41, queue="q", started_at=now, last_seen=now - timedelta(seconds=5))
    Heartbeat.objects.create(host="web1", pid=42, queue="q", started_at=now, last_seen=now - timedelta(minutes=10))

    m = scrape(client)

    assert m[("mysite_outbox_messages", (("status", "sent"),))] == 3
    assert m[("mysite_outbox_messages", (("status", "queued"),))] == 4
    assert m[("mysite_outbox_messages", (("status", "failed"),))] == 1
    assert m[("mysite_outbox_messages", (("status", "sending"),))] == 0
    assert 299 <= m[("mysite_outbox_oldest_due_age_seconds", ())] < 330
    assert m[("mysite_outbox_waiting_messages", (("reason", "relay asked to slow down"),))] == 2
    assert m[("mysite_email_attempts_total", (("outcome", "sent"),))] == 3
    assert m[("mysite_email_attempts_total", (("outcome", "retry"),))] == 1
    assert m[("mysite_email_attempts_total", (("outcome", "deferred"),))] == 1
    assert m[("mysite_email_attempts_total", (("outcome", "failed"),))] == 0
    histogram = "mysite_email_attempt_duration_seconds"
    assert m[(f"{histogram}_bucket", (("le", "0.05"),))] == 2  # 0.03 and 0.02
    assert m[(f"{histogram}_bucket", (("le", "1.0"),))] == 4
    assert m[(f"{histogram}_bucket", (("le", "+Inf"),))] == 5 == m[(f"{histogram}_count", ())]
    assert m[(f"{histogram}_sum", ())] == pytest.approx(0.03 + 0.2 + 4.0 + 0.7 + 0.02)
    assert m[("mysite_reports", (("status", "done"), ("type", "signups")))] == 2
    assert m[("mysite_reports", (("status", "queued"), ("type", "signups")))] == 1
    assert m[("mysite_reports", (("status", "done"), ("type", "outbox")))] == 1
    assert 89 <= m[("mysite_reports_oldest_queued_age_seconds", ())] < 120
    assert 5 <= m[("mysite_consumer_heartbeat_age_seconds", (("host", "web1"), ("pid", "41")))] < 30
    assert 600 <= m[("mysite_consumer_heartbeat_age_seconds", (("host", "web1"), ("pid", "42")))] < 630
    assert m[("mysite_consumers_alive", ())] == 1
    assert m[("mysite_huey_tasks", (("state", "pending"),))] >= 0
    assert not any(v for (name, _), v in m.items() if name == "mysite_metrics_source_failed")


def test_counters_do_not_go_down_when_the_cleanup_prunes(client, settings):
    long_ago = timezone.now() - timedelta(days=settings.NOTIFICATIONS_SENT_RETENTION_DAYS + 1)
    old = message("sent", finished=long_ago)
    attempt(old, "retry", 0.5, started=long_ago)
    attempt(old, "sent", 0.1, started=long_ago)
    attempt(message("sent", finished=timezone.now()), "sent", 0.1)
    before = scrape(client)

    counts = cleanup.run()

    after = scrape(client)
    assert counts["sent e-mails"] == 3  # the message and its two attempts
    assert Attempt.objects.count() == 1
    assert after[("mysite_outbox_messages", (("status", "sent"),))] == 1  # a gauge: the rows as they are
    for name, labels in before:
        if name.startswith("mysite_email_attempt"):
            assert after[(name, labels)] == before[(name, labels)], name


def test_it_wants_the_token_or_a_staff_session(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert b"mysite_" not in wrong.content
    client.force_login(User.objects.create_user("bob"))
    assert client.get("/metrics").status_code == 401
    client.force_login(User.objects.create_user("ops", is_staff=True))
    assert client.get("/metrics").status_code == 401  # staff alone: not enough (issue 20)
    client.force_login(grant(User.objects.create_user("ops2", is_staff=True), *OPERATIONS))
    assert client.get("/metrics").status_code == 200


def test_without_a_token_only_staff_may_scrape(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    client.force_login(grant(User.objects.create_user("ops", is_staff=True), *OPERATIONS))
    assert client.get("/metrics").status_code == 200
