"""Generate one report as an attempt of its durable task: start it, stream its rows to a file, record the outcome.

The task (``reports.tasks.generate_report``) is claimed, renewed, recovered, retried and timed by
durable like any other. The report row is the report's own: an attempt takes it with one conditional
UPDATE (``start``: queued, or running under an older attempt whose consumer died, becomes running
under this attempt's number), and every later write carries that number in its WHERE clause
(``Report.fenced``), so an older attempt's late progress or outcome matches nothing. A consumer
told to stop gives the report back at its next progress save and the task runs again at once.
"""

import logging
import os
import time
import traceback
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from durable.exceptions import TimeLimitExceeded
from durable.models import Task
from operations.signals import site_event
from reports import formats, registry
from reports.models import Report
from reports.progress import FAILED, GIVEN_BACK, STOPPED, ProgressSaver, Stop
from reports.storage import private_storage, temp_dir

logger = logging.getLogger(__name__)


class ConsumerStopping(Exception):  # noqa: N818 - the name says what happened
    """The consumer stopped part-way: the report is queued again and its task runs again at once (a retry)."""

    retry_after = 0  # durable's retry delay: no back-off, the next consumer starts it


def cancel(report):
    """Cancel a queued or running report; return True if it was.

    A queued report's task is cancelled too, so it never runs; a running one stops at its next progress save.
    """
    n = Report.objects.filter(pk=report.pk, status__in=Report.ACTIVE).update(
        status=Report.Status.CANCELLED, finished_at=timezone.now()
    )
    if n:
        task_id = Report.objects.filter(pk=report.pk).values_list("task_id", flat=True).first()
        Task.cancel([task_id])
        logger.info("report %s cancelled (task %s)", report.pk, task_id)
    return bool(n)


def start(report_id, attempt=None):
    """Take the report for task attempt ``attempt``; return it, or None if there is nothing to do.

    Nothing to do: it was cancelled, finished, is gone, or a newer attempt has it. Without an attempt
    (a call in this process, not from the task) only a queued report is taken, as the next attempt.
    """
    reports = Report.objects.filter(pk=report_id)
    if attempt is None:
        reports = reports.filter(status=Report.Status.QUEUED)
        attempt = (reports.values_list("attempts", flat=True).first() or 0) + 1
    else:
        reports = reports.filter(status__in=Report.ACTIVE)
    taken = reports.filter(attempts__lt=attempt).update(
        status=Report.Status.RUNNING,
        attempts=attempt,
        started_at=timezone.now(),
        progress=0,
        row_count=0,
        expected_rows=None,
    )
    return Report.objects.select_related("owner").get(pk=report_id) if taken else None


def generate(report_id, attempt=None):
    """Generate report ``report_id`` as task attempt ``attempt``: the task's unit of work.

    Returns the report (``status`` says what became of it), or None when there was nothing to do.
    Raises ``ConsumerStopping`` when the consumer stops part-way (the report is queued again).
    """
    report = start(report_id, attempt)
    if report is None:
        logger.info("report %s: nothing to do (cancelled, finished, gone, or a newer attempt has it)", report_id)
        return None
    if report.attempts > settings.REPORTS_MAX_ATTEMPTS:
        _fail(report, interrupted(report.attempts - 1), "")
        logger.error("report %s failed after %s interrupted attempts", report.pk, report.attempts - 1)
        return report
    began = time.monotonic()
    tmp = temp_dir() / f"{report.pk}-{report.attempts}.part"
    try:
        rows = write(report, tmp)
        finish(report, tmp, rows)
    except Stop as stop:
        _discard(tmp)
        _stopped(report, stop, began)
    except TimeLimitExceeded:  # durable's monitor raised it in this thread: the task's time limit passed
        _discard(tmp)
        _stopped(report, Stop(over_time_limit()), began)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        _discard(tmp)
        _log(report, "failed", began, logging.ERROR, exc_info=True)
        _fail(report, _user_message(exc), traceback.format_exc())
    else:
        _log(report, "done", began, rows=rows, size=report.size)
    return report


def interrupted(times):
    """What the owner reads when the report's attempts were used up by consumers that stopped or died."""
    return (
        f"The report was interrupted {times} times while it was being generated "
        "(the background worker stopped). Please try again later or with a shorter range."
    )


def over_time_limit():
    """What the owner reads when the report ran past REPORTS_TIME_LIMIT_SECONDS (its task's time limit)."""
    return (
        f"The report took longer than the time limit ({settings.REPORTS_TIME_LIMIT_SECONDS} s) and was stopped. "
        "Try a shorter date range."
    )


def write(report, tmp):
    """Stream the report's rows into ``tmp``; return the row count. Raises ``Stop`` at a save point when told."""
    rtype, params = _checked(report)
    expected = rtype.count(params)
    report.fenced().update(expected_rows=expected if rtype.progress_by == "rows" else None)
    writer = formats.open_writer(report.format, tmp, rtype.columns)
    produced = iter(rtype.rows(params))
    try:
        with ProgressSaver(report, expected) as saver:
            rows = steps = 0
            for row in produced:
                if row is registry.STEP:
                    steps += 1
                else:
                    writer.write(row)
                    rows += 1
                saver.tick(rows, steps if rtype.progress_by == "steps" else rows)
            saver.check(rows, None)  # a last look for cancellation before the file is kept
    except BaseException:
        writer.abort()
        raise
    finally:
        # Ends the type's query too, so the default connection has no statement open when the outcome is saved.
        getattr(produced, "close", lambda: None)()
    writer.close()
    return rows


def _checked(report):
    """The report's type and its parameters, checked again now: ``Stop`` with the reason if it may not run."""
    rtype = registry.get(report.type)
    if rtype is None:
        raise Stop(f"This report type ({report.type}) no longer exists.")
    # The owner may have lost the permission while the report waited.
    scope = report.params.get("scope", registry.ALL)
    try:
        rtype.check(report.owner, scope)
    except registry.NotAllowed as exc:
        raise Stop(str(exc)) from None
    try:
        params = rtype.clean_params(report.params)
    except ValueError as exc:
        raise Stop(f"The report's parameters are no longer valid: {exc}") from None
    if scope == registry.OWN:
        params["owner"] = report.owner
    return rtype, params


def finish(report, tmp, rows):
    """Move the finished file into place and mark the report done, unless it was cancelled.

    The owner's e-mail is the next step of the report's chain (``reports.tasks.email_report_ready``).
    """
    now = timezone.now()
    name = f"{now:%Y/%m}/{report.pk}-{uuid.uuid4().hex}.{'xlsx' if report.format == 'xlsx' else 'csv'}"
    final = Path(private_storage.path(name))
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    done = {"progress": 100, "row_count": rows, "size": final.stat().st_size, "file": name, "finished_at": now}
    with transaction.atomic():
        if report.fenced().update(status=Report.Status.DONE, error="", **done):
            report.refresh_from_db()
            site_event.send(
                sender=__name__,
                type="report.ready",
                data={"report_id": report.pk, "type": report.type, "rows": rows, "owner_id": report.owner_id},
                summary=f"Report {report.pk} ({report.type}) is ready: {rows} rows",
            )
            return
    final.unlink(missing_ok=True)
    raise Stop("cancelled just before it was done", STOPPED)


def _stopped(report, stop, began):
    """Record a ``Stop``: fail the report, give it back (and end the attempt for a retry), or leave it."""
    if stop.outcome == FAILED:
        _fail(report, stop.user_error, "")
        _log(report, "failed", began, logging.WARNING, why=stop.user_error)
    elif stop.outcome == GIVEN_BACK:
        now = timezone.now()
        report.fenced().update(status=Report.Status.QUEUED, progress=0, row_count=0, enqueued_at=now)
        report.status = Report.Status.QUEUED
        _log(report, "given back", began, why=f"{stop.user_error}; the next consumer starts it again")
        raise ConsumerStopping(stop.user_error)
    else:
        report.status = Report.objects.filter(pk=report.pk).values_list("status", flat=True).first()
        _log(report, "stopped", began, why=stop.user_error)


def _fail(report, user_error, trace):
    fields = {"error": user_error[:500], "traceback": trace, "finished_at": timezone.now()}
    if report.fenced().update(status=Report.Status.FAILED, **fields):
        report.status = Report.Status.FAILED


def _log(report, outcome, began, level=logging.INFO, exc_info=False, **details):
    """One line per attempt's outcome, with the report's id and duration (also as structured fields)."""
    elapsed = time.monotonic() - began
    said = "; ".join(f"{k} {v}" if k != "why" else str(v) for k, v in details.items())
    logger.log(
        level,
        "report %s %s after %.1f s (attempt %s)%s",
        report.pk,
        outcome,
        elapsed,
        report.attempts,
        f": {said}" if said else "",
        exc_info=exc_info,
        extra={"report_id": report.pk, "duration": round(elapsed, 3), "outcome": outcome},
    )


def _user_message(exc):
    """A short message for the owner; the traceback goes to the log and the admin."""
    return f"The report could not be generated ({type(exc).__name__}). The site's staff can see the details."


def _discard(path):
    Path(path).unlink(missing_ok=True)
