"""The daily cleanup for reports: files past retention deleted and marked expired, old records, orphan files."""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from operations import cleanup
from reports import generation, registry, requests
from reports.models import Report
from tests.reports_data import user

pytestmark = pytest.mark.django_db(transaction=True)
RANGE = {"start": "2026-03-01", "end": "2026-03-02"}


def done(owner, age_days, fmt="csv"):
    report, _ = requests.request_report(owner, registry.get("signups-per-day"), RANGE, fmt)
    generation.generate(report.pk)
    Report.objects.filter(pk=report.pk).update(finished_at=timezone.now() - timedelta(days=age_days))
    report.refresh_from_db()
    return report


def finished(owner, status, age_days):
    return Report.objects.create(
        owner=owner,
        type="signups-per-day",
        params=RANGE,
        status=status,
        finished_at=timezone.now() - timedelta(days=age_days),
    )


def files():
    root = Path(settings.REPORTS_ROOT)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_it_expires_old_files_and_keeps_fresh_ones(client):
    ada = user("ada")
    old, fresh = done(ada, 8), done(ada, 6, fmt="xlsx")

    counts = cleanup.run()

    assert counts["expired report files"] == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == "expired" and not old.file
    assert fresh.status == "done"
    assert files() == [fresh.file.name]
    client.force_login(ada)
    assert client.get(f"/reports/{old.pk}/download/").status_code == 410
    assert client.get(f"/reports/{fresh.pk}/download/").status_code == 200


def test_it_deletes_old_records_but_not_running_or_recent_ones():
    ada = user("ada")
    for status in ("expired", "failed", "cancelled"):
        finished(ada, status, 91)
    kept = [finished(ada, "failed", 89), finished(ada, "expired", 10)]
    running = Report.objects.create(owner=ada, type="email-log", params=RANGE, status="running")

    assert cleanup.run()["old report records"] == 3

    assert set(Report.objects.values_list("pk", flat=True)) == {r.pk for r in kept} | {running.pk}


def test_it_deletes_orphan_files_but_not_new_ones_or_those_being_written():
    ada = user("ada")
    report = done(ada, 1)
    running = Report.objects.create(owner=ada, type="email-log", params=RANGE, status="running", attempts=3)
    root = Path(settings.REPORTS_ROOT)
    orphan = root / "2026/01/7-deadbeef.csv"
    leftover = root / "tmp/99-0123.part"  # a killed consumer's half-written file
    writing = root / f"tmp/{running.pk}-3.part"
    new = root / "2026/11/8-cafe.csv"
    for path in (orphan, leftover, writing, new):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    hour_ago = time.time() - 3700
    for path in (orphan, leftover, writing, report.file.path):
        os.utime(path, (hour_ago, hour_ago))

    assert cleanup.run(dry_run=True)["orphan report files"] == 2
    assert orphan.exists()
    assert cleanup.run()["orphan report files"] == 2

    assert files() == sorted([report.file.name, "2026/11/8-cafe.csv", f"tmp/{running.pk}-3.part"])


def test_the_command_reports_what_it_pruned(capsys):
    done(user("ada"), 8)

    call_command("cleanup", "--dry-run")
    assert "Would prune 1 expired report files" in capsys.readouterr().out
    assert Report.objects.get().status == "done"
    call_command("cleanup")
    assert "Pruned 1 expired report files" in capsys.readouterr().out
    assert Report.objects.get().status == "expired" and files() == []


def test_a_report_past_retention_is_already_410_before_the_cleanup_runs(client):
    ada = user("ada")
    report = done(ada, 7.01)
    client.force_login(ada)

    response = client.get(f"/reports/{report.pk}/download/")

    assert response.status_code == 410 and "Generate it again" in response.content.decode()


def test_a_reports_old_task_goes_with_the_durable_cleanup_and_the_report_stays(run_tasks):
    from durable.models import Task

    report = done(user("ada"), 1)
    assert run_tasks() == 2  # its task ran (nothing left to do: generated above), then its chain's e-mail step
    Task.objects.filter(pk=report.task_id).update(finished_at=timezone.now() - timedelta(days=30))

    assert cleanup.run()["finished tasks"] == 1

    report.refresh_from_db()
    assert report.task_id is None and report.status == "done"
