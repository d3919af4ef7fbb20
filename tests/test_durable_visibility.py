"""Durable tasks as operators see them: the operations page, /health/, /metrics, and the daily cleanup."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from durable import claim
from durable.models import Tally, Task, TaskAttempt
from operations import cleanup
from tests import durable_tasks

pytestmark = pytest.mark.django_db(transaction=True)
ADD, FLAKY, NOOP = "tests.durable_tasks.add", "tests.durable_tasks.flaky", "tests.durable_tasks.noop"


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    return client


@pytest.fixture
def mixed(tmp_path):
    """Two successful adds, one flaky task retrying (attempt 1 failed), one failed, two noops due 90 s ago."""
    for i in range(2):
        durable_tasks.add.enqueue(i, 1)
    durable_tasks.flaky.enqueue(str(tmp_path / "marks"), 5)  # fails, waits 0.2 s to retry
    failed = durable_tasks.flaky.using(priority=-1).enqueue(str(tmp_path / "marks2"), 5)
    # One claim of the four, each run once: run_due() would claim again until nothing is due, and on a loaded machine
    # the first flaky task's retry (due 0.2 s later) came due within that loop and used up its attempts.
    for row in claim.claim(limit=4):
        claim.run_batch([row])
    Task.objects.filter(pk=failed.id).update(status="failed", finished_at=timezone.now())
    late = timezone.now() - timedelta(seconds=90)
    noops = [int(durable_tasks.noop.enqueue().id) for _ in range(2)]
    Task.objects.filter(pk__in=noops).update(due_at=late)
    durable_tasks.noop.using(run_after=timezone.now() + timedelta(hours=1)).enqueue()  # not due: not late
    return {"failed": int(failed.id)}


def scrape(client, settings):
    settings.METRICS_TOKEN = "t0ken"
    response = client.get("/metrics", headers={"Authorization": "Bearer t0ken"})
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def test_the_operations_page_shows_each_task_names_counts_oldest_due_and_failures(staff_client, mixed):
    page = staff_client.get("/operations/")

    assert page.status_code == 200
    panel = page.context["durable"]
    by_name = {e["name"]: e for e in panel["names"]}
    assert set(by_name) == {FLAKY, NOOP}  # the adds succeeded: nothing to show for them
    assert (by_name[FLAKY]["retrying"], by_name[FLAKY]["failed"], by_name[FLAKY]["queued"]) == (1, 1, 0)
    assert by_name[NOOP]["queued"] == 3 and 89 < by_name[NOOP]["oldest_due_age"] < 150
    assert 89 < panel["oldest_due_age"] < 150
    html = page.content.decode()
    assert 'id="ops-durable"' in html and "failing on purpose, attempt 1" in html
    assert f"/admin/durable/task/{mixed['failed']}/change/" in html
    assert "status__exact=failed" in html


def test_health_fails_when_a_due_task_waits_past_the_limit(staff_client, mixed, settings):
    settings.DURABLE_HEALTH_MAX_WAIT_SECONDS = 600
    check = staff_client.get("/health/").json()["checks"]["tasks"]
    assert check["ok"] and 89 < check["oldest_due_age_seconds"] < 150

    settings.DURABLE_HEALTH_MAX_WAIT_SECONDS = 60
    response = staff_client.get("/health/")

    assert response.status_code == 503
    check = response.json()["checks"]["tasks"]
    assert not check["ok"] and "has not started (limit 60 s)" in check["error"]


def test_health_does_not_count_a_task_waiting_for_its_time(staff_client, settings):
    settings.DURABLE_HEALTH_MAX_WAIT_SECONDS = 1
    durable_tasks.noop.using(run_after=timezone.now() - timedelta(seconds=30)).enqueue()
    assert not staff_client.get("/health/").json()["checks"]["tasks"]["ok"]
    Task.objects.update(status="cancelled")
    durable_tasks.noop.using(run_after=timezone.now() + timedelta(hours=2)).enqueue()

    check = staff_client.get("/health/").json()["checks"]["tasks"]

    assert check == {"ok": True, "oldest_due_age_seconds": 0.0, "ms": check["ms"]}


def test_metrics_give_depth_oldest_due_attempts_and_durations(client, settings, mixed):
    m = scrape(client, settings)

    assert m[("mysite_durable_tasks", (("name", ADD), ("status", "successful")))] == 2
    assert m[("mysite_durable_tasks", (("name", FLAKY), ("status", "retrying")))] == 1
    assert m[("mysite_durable_tasks", (("name", FLAKY), ("status", "failed")))] == 1
    assert m[("mysite_durable_tasks", (("name", NOOP), ("status", "queued")))] == 3
    assert 89 < m[("mysite_durable_oldest_due_age_seconds", ())] < 150
    assert m[("mysite_durable_task_attempts_total", (("name", ADD), ("outcome", "successful")))] == 2
    assert m[("mysite_durable_task_attempts_total", (("name", FLAKY), ("outcome", "retry")))] == 2
    assert m[("mysite_durable_task_duration_seconds_count", (("name", ADD),))] == 2
    assert m[("mysite_durable_task_duration_seconds_bucket", (("le", "0.5"), ("name", ADD)))] == 2
    assert m[("mysite_durable_task_duration_seconds_bucket", (("le", "+Inf"), ("name", FLAKY)))] == 2
    assert 0 <= m[("mysite_durable_task_duration_seconds_sum", (("name", ADD),))] < 1


def test_the_daily_cleanup_prunes_finished_tasks_past_retention_and_counters_stay(client, settings, mixed):
    settings.DURABLE_RETENTION_DAYS = 14
    old = timezone.now() - timedelta(days=15)
    adds = list(Task.objects.filter(name=ADD).values_list("pk", flat=True))
    Task.objects.filter(pk__in=[adds[0], mixed["failed"]]).update(finished_at=old)
    before = scrape(client, settings)

    assert cleanup.run()["finished tasks"] == 2

    assert not Task.objects.filter(pk__in=[adds[0], mixed["failed"]]).exists()
    assert not TaskAttempt.objects.filter(task_id__in=[adds[0], mixed["failed"]]).exists()
    assert Task.objects.filter(pk=adds[1], status="successful").exists()  # finished 14 days ago at most
    assert Task.objects.filter(name=NOOP, status="queued").count() == 3  # never a task still to run
    after = scrape(client, settings)
    assert after[("mysite_durable_tasks", (("name", ADD), ("status", "successful")))] == 1  # a gauge: the rows
    for name, labels in before:
        if name.startswith("mysite_durable_task_"):
            assert after[(name, labels)] == pytest.approx(before[(name, labels)]), (name, labels)
    assert cleanup.run()["finished tasks"] == 0


@pytest.mark.consumer
def test_a_task_killed_with_its_consumer_shows_its_lost_attempt_then_success(staff_client, start_consumer, tmp_path):
    """The issue's "done when": kill -9 while the task runs, restart, and the operator sees what happened."""
    from testing.plugin import wait_until

    path = tmp_path / "marks"
    result = durable_tasks.slow.enqueue(str(path), 2, tag="resize")
    consumer = start_consumer()
    wait_until(lambda: path.exists() and "start" in path.read_text(), message="the task to start")
    consumer.kill()

    page = staff_client.get("/operations/")
    (entry,) = page.context["durable"]["names"]
    assert entry["name"] == "tests.durable_tasks.slow" and entry["running"] == 1

    start_consumer()
    wait_until(lambda: Task.objects.get(pk=result.id).status == "successful", message="the task to succeed")

    page = staff_client.get("/operations/").content.decode()
    assert f"/admin/durable/task/{result.id}/change/" in page and "lost (its consumer died)" in page
    admin = staff_client.get(f"/admin/durable/task/{result.id}/change/").content.decode()
    assert "durable.exceptions.ConsumerLost" in admin and "successful" in admin
    final = durable_tasks.slow.get_result(result.id)
    assert final.attempts == 2 and final.return_value == "resize"


def test_settled_attempts_are_folded_into_tallies_once_and_counters_hold(client, settings, mixed):
    from durable.metrics import WATERMARK

    before = scrape(client, settings)
    five = timedelta(minutes=5)  # settled: folded into the tallies at the next scrape
    TaskAttempt.objects.update(started_at=F("started_at") - five, finished_at=F("finished_at") - five)

    first, second = scrape(client, settings), scrape(client, settings)

    assert Tally.objects.get(key=WATERMARK).value == TaskAttempt.objects.order_by("-id").first().pk
    for name, labels in before:
        if name.startswith("mysite_durable_task_"):
            assert first[(name, labels)] == pytest.approx(before[(name, labels)]), (name, labels)
            assert second[(name, labels)] == pytest.approx(before[(name, labels)]), (name, labels)
    Task.objects.filter(pk=mixed["failed"]).update(finished_at=timezone.now() - timedelta(days=30))
    assert cleanup.run()["finished tasks"] == 1  # its attempts were folded already: not added twice
    assert_same_counters(scrape(client, settings), second)
    durable_tasks.add.enqueue(2, 2)
    claim.run_due()
    third = scrape(client, settings)  # a new attempt, past the watermark: counted live
    assert third[("mysite_durable_task_attempts_total", (("name", ADD), ("outcome", "successful")))] == 3


def assert_same_counters(now, then):
    """The attempt counters and duration histograms of two scrapes agree (gauges may differ)."""
    for key, value in then.items():
        if key[0].startswith("mysite_durable_task_"):
            assert now[key] == pytest.approx(value), key
