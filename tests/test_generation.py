"""Generating a report in this process: rows, files, progress, cancellation, limits, failures, recovery."""

import atexit
import csv
import time
from dataclasses import replace
from pathlib import Path

import pytest

from durable import claim, lifeline
from durable.models import Task
from durable.options import options_of
from notifications.models import Message
from reports import emails, generation, progress, registry, requests, tasks
from reports.models import Report
from reports.registry import ReportType
from tests.reports_data import READS_OUTBOX, outbox, user

pytestmark = pytest.mark.django_db(transaction=True)


def ask(owner, slug, fmt="csv", **params):
    params = {"start": "2026-03-01", "end": "2026-03-03", **params}
    report, _ = requests.request_report(owner, registry.get(slug), params, fmt, site_url="http://testserver")
    return report


def read_csv(report):
    with report.file.open("rb") as f:
        text = f.read().decode("utf-8-sig")
    return list(csv.reader(text.splitlines()))


def test_it_counts_sign_ups_per_day_including_empty_days():
    ada = user("ada", joined="2026-03-01")
    user("bob", joined="2026-03-01")
    user("cy", joined="2026-03-03")
    user("dee", joined="2026-03-04")  # outside the range

    report = generation.generate(ask(ada, "signups-per-day").pk)

    report.refresh_from_db()
    assert report.status == "done" and report.progress == 100 and report.row_count == 3
    assert read_csv(report) == [["date", "sign-ups"], ["2026-03-01", "2"], ["2026-03-02", "0"], ["2026-03-03", "1"]]
    assert report.size == report.file.size > 0


def test_it_counts_email_delivery_per_day_and_domain():
    ada = user("ada", perms=READS_OUTBOX)
    outbox("2026-03-01", ["a@example.com"], "sent")
    outbox("2026-03-01", ["b@Example.com", "c@other.org"], "failed")
    outbox("2026-03-01", ["d@other.org"], "queued")
    outbox("2026-03-02", ["e@example.com"], "cancelled")
    outbox("2026-03-05", ["f@example.com"], "sent")  # outside

    report = generation.generate(ask(ada, "email-delivery").pk)

    report.refresh_from_db()
    assert report.status == "done", report.traceback
    assert read_csv(report) == [
        ["date", "recipient domain", "queued", "sent", "failed", "pending", "cancelled"],
        ["2026-03-01", "(all domains)", "3", "1", "1", "1", "0"],
        ["2026-03-01", "example.com", "2", "1", "1", "0", "0"],
        ["2026-03-01", "other.org", "2", "0", "1", "1", "0"],
        ["2026-03-02", "(all domains)", "1", "0", "0", "0", "1"],
        ["2026-03-02", "example.com", "1", "0", "0", "0", "1"],
    ]


def test_it_writes_one_log_row_per_email_with_a_bom_for_excel():
    ada = user("ada", perms=READS_OUTBOX)
    outbox("2026-03-02", ["x@example.com", "y@example.com"], "sent", subject="Grüße, “quoted”")

    report = generation.generate(ask(ada, "email-log", fmt="csv-excel").pk)

    report.refresh_from_db()
    raw = report.file.open("rb").read()
    assert raw.startswith(b"\xef\xbb\xbf")
    [header, row] = read_csv(report)
    assert header[:3] == ["id", "queued at", "status"]
    assert row[2:6] == ["sent", "noreply@example.com", "x@example.com, y@example.com", "Grüße, “quoted”"]
    assert row[1] == "2026-03-02 12:00:00"


def test_the_owner_gets_an_email_with_the_download_link(run_tasks):
    ada = user("ada")
    report = ask(ada, "signups-per-day")

    assert run_tasks() == 2  # the generation, then its chain's e-mail step

    [mail] = Message.objects.filter(recipients=["ada@example.com"])
    body = mail.body_text()
    assert mail.subject == "Your report is ready: Sign-ups per day"
    assert f"http://testserver/reports/{report.pk}/download/" in body


def test_the_ready_email_is_the_step_after_generation_and_goes_once(run_tasks):
    report = ask(user("ada"), "signups-per-day")
    generate, email = Task.objects.filter(flow__isnull=False).order_by("id")
    assert (generate.pk, generate.status, email.status) == (report.task_id, "queued", "waiting")
    assert email.name == "reports.tasks.email_report_ready" and email.args == [report.pk]

    assert run_tasks() == 2

    email.refresh_from_db()
    assert (email.status, email.args, email.return_value) == ("successful", ["done", report.pk], "sent")
    assert emails.notify_ready(report.pk) == "not sent"  # the step run again (a kill -9 before its outcome)
    assert Message.objects.filter(subject__startswith="Your report is ready").count() == 1
    assert Report.objects.get(pk=report.pk).notified_at is not None


def test_a_failed_report_sends_no_ready_email(slow_type, run_tasks):
    def boom():
        raise ZeroDivisionError("broken")

    slow_type.halfway = boom
    report, _ = requests.request_report(user("ada"), slow_type, {}, "csv")

    assert run_tasks() == 2  # generation records the failure on the report; the e-mail step finds it failed

    assert Report.objects.get(pk=report.pk).status == "failed"
    assert Task.objects.get(name="reports.tasks.email_report_ready").return_value == "not sent"
    assert not Message.objects.exists()


def test_the_same_request_while_one_is_active_returns_it():
    ada, bob = user("ada"), user("bob")
    first = ask(ada, "signups-per-day")

    again, created = requests.request_report(ada, registry.get("signups-per-day"), dict(first.params), "csv")

    assert not created and again.pk == first.pk
    assert ask(ada, "signups-per-day", fmt="xlsx").pk != first.pk  # another format is another report
    assert ask(bob, "signups-per-day").pk != first.pk  # another owner too
    generation.generate(first.pk)
    assert ask(ada, "signups-per-day").pk != first.pk  # once done, asking again makes a new one
    assert Report.objects.count() == 4


def test_a_report_already_claimed_is_not_generated_twice():
    ada = user("ada")
    report = ask(ada, "signups-per-day")
    assert generation.start(report.pk, attempt=1) is not None

    assert generation.generate(report.pk) is None  # a duplicate task finds it running: nothing to do
    assert not any(generation.temp_dir().iterdir())


class _Slow(ReportType):
    """Test type: many rows, and a hook to act on the world half-way."""

    slug = "test-slow"
    name = "Test slow"
    columns = ("n",)
    halfway = None

    def count(self, params):
        return 1000

    def rows(self, params):
        for n in range(1000):
            if n == 500 and self.halfway:
                self.halfway()
            yield (n,)


@pytest.fixture
def slow_type(settings):
    settings.REPORTS_PROGRESS_INTERVAL_SECONDS = 0  # a save point after every row
    registry.register(_Slow)
    yield registry.get("test-slow")
    registry._types.pop("test-slow")


def test_cancelling_stops_it_at_the_next_save_and_leaves_no_file(slow_type):
    ada = user("ada")
    report, _ = requests.request_report(ada, slow_type, {}, "csv")
    slow_type.halfway = lambda: generation.cancel(report)

    generation.generate(report.pk)

    report.refresh_from_db()
    assert report.status == "cancelled" and 50 <= report.progress < 60
    assert not report.file
    assert [p for p in generation.temp_dir().parent.rglob("*") if p.is_file()] == []
    assert not Message.objects.exists()  # no "ready" e-mail


def test_progress_is_saved_at_a_bounded_rate(slow_type, settings, monkeypatch):
    saves = []
    original = progress.ProgressSaver.check
    monkeypatch.setattr(progress.ProgressSaver, "check", lambda self, *a: saves.append(a) or original(self, *a))
    settings.REPORTS_PROGRESS_INTERVAL_SECONDS = 3600
    report, _ = requests.request_report(user("ada"), slow_type, {}, "csv")

    generation.generate(report.pk)

    report.refresh_from_db()
    assert report.status == "done" and report.row_count == 1000
    assert saves == [(1000, None)]  # 1000 rows, one save: the last look before the file is kept


def test_the_time_limit_fails_it_with_a_clear_message(slow_type, settings, monkeypatch, run_tasks):
    # The task's time limit is read when the consumer starts: this one's is 1 s.
    settings.REPORTS_TIME_LIMIT_SECONDS = 1
    task = tasks.generate_report.func
    monkeypatch.setattr(task, "durable_options", replace(options_of(tasks.generate_report), time_limit=1))
    slow_type.halfway = lambda: [time.sleep(0.01) for _ in range(500)]  # 5 s, in steps the limit can stop
    report, _ = requests.request_report(user("ada"), slow_type, {}, "xlsx")

    assert run_tasks() == 2  # the generation (failed: over its limit), then its e-mail step (sends nothing)

    report.refresh_from_db()
    assert report.status == "failed"
    assert "longer than the time limit (1 s)" in report.error
    assert tasks.generate_report.get_result(str(report.task_id)).return_value == "failed"


def test_a_crash_shows_a_short_message_and_keeps_the_traceback_for_staff(slow_type):
    def boom():
        raise ZeroDivisionError("secret internals")

    slow_type.halfway = boom
    report, _ = requests.request_report(user("ada"), slow_type, {}, "csv")

    generation.generate(report.pk)

    report.refresh_from_db()
    assert report.status == "failed"
    assert "secret" not in report.error and "ZeroDivisionError" in report.error
    assert "secret internals" in report.traceback and "Traceback" in report.traceback


def test_a_removed_type_fails_with_a_message():
    report = ask(user("ada"), "signups-per-day")
    Report.objects.filter(pk=report.pk).update(type="gone")

    generation.generate(report.pk)

    report.refresh_from_db()
    assert report.status == "failed" and "no longer exists" in report.error


def task_of(report):
    return Task.objects.get(pk=report.task_id)


@pytest.fixture
def recover(monkeypatch):
    """``durable.lifeline.recover``, what a consumer starting on this host does; the exit hook it registers goes
    with the test (at this process's exit the test database is gone)."""
    hooks = []
    register = atexit.register
    monkeypatch.setattr(atexit, "register", lambda fn, *args: hooks.append(fn) or register(fn, *args))
    yield lifeline.recover
    for fn in hooks:
        atexit.unregister(fn)


@pytest.mark.consumer
def test_a_report_whose_consumers_keep_dying_fails_saying_so(settings, dead_task_consumer, run_tasks, recover):
    settings.REPORTS_MAX_ATTEMPTS = 2
    report = ask(user("ada"), "signups-per-day")

    for _ in range(2):
        dead_task_consumer()  # a real consumer claims the report's task and is killed holding it
        assert recover() == 1 and task_of(report).status == "queued"  # the next one, on this host, takes it back
    assert run_tasks() == 2  # the last attempt fails the report; the e-mail step sends nothing

    report.refresh_from_db()
    assert report.status == "failed" and "interrupted 2 times" in report.error
    assert not Message.objects.exists()


@pytest.mark.consumer
def test_start_up_recovery_requeues_reports_of_a_dead_consumer(dead_task_consumer, run_tasks, recover):
    report = ask(user("ada"), "signups-per-day")
    dead_task_consumer()

    assert recover() == 1 and task_of(report).status == "queued"
    assert run_tasks() == 2  # the generation, then its e-mail step

    report.refresh_from_db()
    assert report.status == "done" and report.attempts == 2
    assert Message.objects.filter(subject__startswith="Your report is ready").count() == 1


def test_a_report_is_a_durable_task_committed_with_it():
    report = ask(user("ada"), "signups-per-day")

    task = Task.objects.get(pk=report.task_id)
    assert (task.name, task.args, task.group, task.flow.kind) == (
        "reports.tasks.generate_report",
        [report.pk],
        "reports",
        "chain",
    )
    # The same report cannot have two chains on their way.
    assert requests.enqueue(report) == task.pk and Task.objects.count() == 2


def test_a_cancelled_queued_report_never_runs(run_tasks):
    report = ask(user("ada"), "signups-per-day")

    assert generation.cancel(report)

    assert run_tasks() == 0
    report.refresh_from_db()
    assert report.status == "cancelled" and report.attempts == 0
    assert Task.objects.get(pk=report.task_id).status == "cancelled"


def test_a_stale_attempts_late_progress_and_outcome_match_nothing(settings, tmp_path):
    report = ask(user("ada"), "signups-per-day")
    stale = generation.start(report.pk, attempt=1)
    newer = generation.start(report.pk, attempt=2)  # its task was recovered: attempt 2 runs it now

    assert stale.fenced().update(progress=42) == 0
    with pytest.raises(progress.Stop, match="a newer attempt has it"), progress.ProgressSaver(stale, 10) as saver:
        saver.check(5, 5)
    part = tmp_path / "stale.part"
    part.write_text("date,sign-ups\n")
    with pytest.raises(progress.Stop):
        generation.finish(stale, part, 1)  # its late "done" matches nothing: no file kept, no e-mail
    report.refresh_from_db()
    assert (report.status, report.attempts, report.progress, report.file.name) == ("running", 2, 0, "")
    assert not Message.objects.exists()
    assert [p for p in Path(settings.REPORTS_ROOT).rglob("*") if p.is_file()] == []

    assert generation.generate(report.pk, attempt=2) is None  # attempt 2 started already: not twice
    assert generation.start(report.pk, attempt=1) is None  # nor does the old attempt take it back
    assert Report.objects.get(pk=report.pk).attempts == newer.attempts == 2


def test_at_most_reports_max_running_run_at_once_and_the_next_starts_after(settings, run_tasks):
    settings.REPORTS_MAX_RUNNING = 1
    settings.DURABLE_GROUP_LIMITS = {**settings.DURABLE_GROUP_LIMITS, "reports": settings.REPORTS_MAX_RUNNING}
    ada = user("ada")
    first, second = ask(ada, "signups-per-day"), ask(ada, "email-log")
    [claimed] = claim.claim(5)  # a worker starts the first report's task: the group is full
    assert claimed.pk == first.task_id

    assert run_tasks() == 0  # no free place: the second stays queued
    second.refresh_from_db()
    assert second.status == "queued"

    assert claim.run_batch([claimed]) == 1
    assert run_tasks() == 3  # the first's e-mail step, the second report, its e-mail step
    second.refresh_from_db()
    assert second.status == "done"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_address_built_as_a_formula_is_exported_as_text(fmt):
    from openpyxl import load_workbook

    hostile = "=cmd|'/Ccalc.exe'!A0@example.com"
    outbox("2026-03-02", [hostile], "sent", subject="@SUM(1+1)")
    report = generation.generate(ask(user("ops", perms=READS_OUTBOX), "email-log", fmt=fmt).pk)

    report.refresh_from_db()
    if fmt == "csv":
        [_, row] = read_csv(report)
        assert row[4:6] == ["'" + hostile, "'@SUM(1+1)"]
    else:
        with report.file.open("rb") as f:
            cells = [c for row in load_workbook(f).active.iter_rows() for c in row]
        assert not [c for c in cells if c.data_type == "f"]
        assert hostile in [c.value for c in cells]


def test_report_files_and_folders_are_not_readable_by_others(settings):
    from pathlib import Path

    report = generation.generate(ask(user("ada"), "signups-per-day").pk)
    report.refresh_from_db()

    root = Path(settings.REPORTS_ROOT)
    paths = [root, *root.rglob("*")]
    assert Path(report.file.path) in paths
    assert {str(p.relative_to(root)): p.stat().st_mode & 0o007 for p in paths} == {
        str(p.relative_to(root)): 0 for p in paths
    }
