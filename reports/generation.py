"""Claim a queued report, stream its rows to a file, record the outcome on the row.

Huey only carries wake-ups with a report id: the row is the truth. Claims, leases and
recovery are ``durable.leases`` (``LEASES``): a claim is one conditional UPDATE that stamps
the row with a fresh lease token, every later write of the holder carries that token, and
the lease is renewed at every progress save (at most once per REPORTS_PROGRESS_INTERVAL_SECONDS),
so a report whose consumer died is found by its expired lease (``sweep``) or, on the same
host, at the next consumer start (``recover_orphans``). A consumer told to stop gives its
report back, uncounted, at the next progress save; the next consumer starts it again.
"""

import logging
import os
import time
import traceback
import uuid
from collections import Counter, deque
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Count, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from durable.leases import Leases
from durable.startup import stopping
from notifications import priority
from operations.signals import site_event
from reports import emails, formats, registry
from reports.models import Report, params_key
from reports.storage import private_storage, temp_dir

logger = logging.getLogger(__name__)
PROGRESS_DB = "reports-progress"  # a second connection to the default database, per generating thread


class TooManyActive(Exception):
    """The owner already has REPORTS_MAX_ACTIVE_PER_USER reports queued or running; the message says so."""

    def __init__(self):
        n = settings.REPORTS_MAX_ACTIVE_PER_USER
        super().__init__(
            f"You already have {n} report{'s' if n != 1 else ''} queued or being generated, the most at once. "
            "Wait for one to finish (or cancel one), then ask again."
        )


class Stop(Exception):
    """Generation must stop: cancelled, lease lost, over the time limit, or the consumer is stopping.

    ``user_error`` says which; ``status`` is what the row becomes (queued: given back untried).
    """

    def __init__(self, user_error, status=Report.Status.FAILED):
        super().__init__(user_error)
        self.user_error = user_error
        self.status = status


class ReportLeases(Leases):
    """Leases on reports: a claim starts the report's progress from zero; a report taken back from a
    consumer that died is queued again from the start, or, after REPORTS_MAX_ATTEMPTS, fails with a
    message telling its owner it was interrupted that many times.
    """

    def __init__(self):
        super().__init__(Report, Report.STATES, seconds=None, max_attempts=None, order_by=("id",))

    # Read at each use, so a test (or a consumer's environment) can change them.
    seconds = property(lambda self: settings.REPORTS_LEASE_SECONDS, lambda self, value: None)
    max_attempts = property(lambda self: settings.REPORTS_MAX_ATTEMPTS, lambda self, value: None)

    def claim_values(self, now):
        return {"started_at": now, "progress": 0, "row_count": 0}

    def release_values(self):
        return {"progress": 0, "row_count": 0, "enqueued_at": timezone.now()}

    def lost(self, row, why, used_up, now):
        if used_up:
            return {
                "status": Report.Status.FAILED,
                "error": (
                    f"The report was interrupted {row.attempts} times while it was being generated "
                    "(the background worker stopped). Please try again later or with a shorter range."
                ),
                "traceback": f"{why} (held by {row.claimed_by})",
                "finished_at": now,
            }
        return {"status": Report.Status.QUEUED, "due_at": now, "enqueued_at": now, "progress": 0, "row_count": 0}

    def take_back(self, queryset, why):
        taken = super().take_back(queryset, why)
        failed = [r.pk for r in taken if self.used_up(r)]
        requeued = [r.pk for r in taken if not self.used_up(r)]
        if failed:
            logger.error(
                "reports %s failed after %s interrupted attempts", ", ".join(map(str, failed)), self.max_attempts
            )
        if requeued:
            logger.warning("reports %s requeued: %s", ", ".join(map(str, requeued)), why)
        return taken


LEASES = ReportLeases()


# --- asking for a report (the request side) ------------------------------------


def request_report(owner, rtype, params, fmt, site_url="", on_commit=None):
    """Create a queued report, or return the one already queued or running for the same request.

    Returns ``(report, created)``; raises ``TooManyActive`` when the owner has
    REPORTS_MAX_ACTIVE_PER_USER reports queued or running already. The database enforces "one active per request"
    (a conditional unique constraint), so two simultaneous requests cannot both
    create one. ``on_commit(report_id)`` runs after the new row is committed.
    Raises ``registry.NotAllowed`` if ``owner`` may not run ``rtype``; for a type with a
    permission the params record the scope asked for (everyone's data or the owner's own).
    """
    scope = rtype.scope(owner)
    if scope is None:
        rtype.check(owner, registry.ALL)  # raises with the message
    if rtype.permission:
        params = {**params, "scope": scope}
    for _ in range(3):
        try:
            with transaction.atomic():
                active = Report.objects.filter(owner=owner, status__in=Report.ACTIVE)
                if active.count() >= settings.REPORTS_MAX_ACTIVE_PER_USER:
                    same = active.filter(type=rtype.slug, format=fmt, params_key=params_key(params)).first()
                    if same is not None:
                        return same, False
                    logger.info("report for user %s refused: %s active already", owner.pk, active.count())
                    raise TooManyActive()
                report = Report.objects.create(
                    owner=owner, type=rtype.slug, params=params, format=fmt, site_url=site_url[:200]
                )
                if on_commit is not None:
                    transaction.on_commit(lambda pk=report.pk: on_commit(pk))
            logger.info("report %s queued: %s for user %s (%s)", report.pk, rtype.slug, owner.pk, fmt)
            return report, True
        except IntegrityError:
            existing = (
                Report.objects.filter(
                    owner=owner, type=rtype.slug, format=fmt, status__in=Report.ACTIVE, params_key=params_key(params)
                )
                .order_by("-id")
                .first()
            )
            if existing is not None:
                return existing, False
            # It finished between our INSERT and this look: try again.
    raise RuntimeError("could not create or find the report after 3 tries")


def cancel(report):
    """Cancel a queued or running report; return True if it was. The consumer stops at its next save."""
    n = Report.objects.filter(pk=report.pk, status__in=Report.ACTIVE).update(
        status=Report.Status.CANCELLED, finished_at=timezone.now(), lease_token="", lease_expires_at=None
    )
    if n:
        logger.info("report %s cancelled", report.pk)
    return bool(n)


# --- generating (the consumer side) -------------------------------------------


def claim(report_id):
    """Take ``report_id`` if it is queued and fewer than REPORTS_MAX_RUNNING reports run; return it, or ``None``.

    The limit is part of the claim's conditional UPDATE, so workers cannot all start reports at once and
    leave none for e-mail. A report left waiting is enqueued again when a running one ends (``waiting``).
    """
    running = Report.objects.filter(status=Report.Status.RUNNING).values("status").annotate(n=Count("pk")).values("n")

    def this_one_under_the_cap(due):
        return (
            due.filter(pk=report_id)
            .alias(running=Coalesce(Subquery(running), 0))
            .filter(running__lt=settings.REPORTS_MAX_RUNNING)
        )

    rows = LEASES.claim(limit=1, where=this_one_under_the_cap)
    return rows[0] if rows else None


def waiting():
    """Ids of the queued reports that may start now (free places under REPORTS_MAX_RUNNING), fairest first."""
    free = settings.REPORTS_MAX_RUNNING - Report.objects.filter(status=Report.Status.RUNNING).count()
    return fair_order(free) if free > 0 else []


def fair_order(limit):
    """Up to ``limit`` queued report ids in the order they should start: round-robin between owners.

    The next report is the oldest of the owner with the fewest running (then the owner whose oldest
    report is oldest), so one user's pile of reports cannot starve everyone else's. The queued rows
    are few: each owner has at most REPORTS_MAX_ACTIVE_PER_USER.
    """
    running = Counter(Report.objects.filter(status=Report.Status.RUNNING).values_list("owner_id", flat=True))
    queued = {}
    for pk, owner in Report.objects.filter(status=Report.Status.QUEUED).order_by("pk").values_list("pk", "owner_id"):
        queued.setdefault(owner, deque()).append(pk)
    order = []
    while queued and len(order) < limit:
        owner = min(queued, key=lambda o: (running[o], queued[o][0]))
        order.append(queued[owner].popleft())
        running[owner] += 1
        if not queued[owner]:
            del queued[owner]
    return order


def claim_fairly(report_id):
    """Claim the report that should start next: ``report_id`` when it is among them, else the fairest.

    Huey carries wake-ups: whichever report's task runs, the report that starts is the fair one;
    the one passed over stays queued and gets a task when a place frees (``waiting``).
    """
    for _ in range(3):
        order = waiting()
        if not order:
            return None
        pick = report_id if report_id in order else order[0]
        report = claim(pick)
        if report is not None:
            if pick != report_id:
                logger.info("report %s waits: report %s starts first (fair order between users)", report_id, pick)
            return report
    return None


def generate(report_id):
    """Generate the fairest queued report (``report_id`` if it is among them); the Huey task's unit of work."""
    if stopping():
        logger.info("report %s left queued: the consumer is stopping; the next one starts it", report_id)
        return None
    report = claim_fairly(report_id)
    if report is None:
        state = Report.objects.filter(pk=report_id).values_list("status", flat=True).first()
        if state == Report.Status.QUEUED:
            logger.info("report %s waits: %s reports are running already", report_id, settings.REPORTS_MAX_RUNNING)
        else:
            logger.info("report %s is %s; nothing to do", report_id, state or "gone")
        return None
    started = time.monotonic()
    tmp = temp_dir() / f"{report.pk}-{report.lease_token}.part"
    try:
        rows = write(report, tmp)
        finish(report, tmp, rows)
    except Stop as stop:
        _discard(tmp)
        if stop.status == Report.Status.QUEUED:
            LEASES.release([report])
            logger.info(
                "report %s given back after %.1f s: %s; the next consumer starts it again",
                report.pk,
                time.monotonic() - started,
                stop.user_error,
            )
        elif stop.status == Report.Status.CANCELLED:
            LEASES.forget([report])
            elapsed = time.monotonic() - started
            logger.info(
                "report %s stopped after %.1f s: %s",
                report.pk,
                elapsed,
                stop.user_error,
                extra={"report_id": report.pk, "duration": round(elapsed, 3), "outcome": "cancelled"},
            )
        else:
            _fail(report, stop.user_error, "")
            elapsed = time.monotonic() - started
            logger.warning(
                "report %s failed after %.1f s: %s",
                report.pk,
                elapsed,
                stop.user_error,
                extra={"report_id": report.pk, "duration": round(elapsed, 3), "outcome": "failed"},
            )
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        _discard(tmp)
        elapsed = time.monotonic() - started
        logger.exception(
            "report %s failed after %.1f s",
            report.pk,
            elapsed,
            extra={"report_id": report.pk, "duration": round(elapsed, 3), "outcome": "failed"},
        )
        _fail(report, _user_message(exc), traceback.format_exc())
    else:
        elapsed = time.monotonic() - started
        logger.info(
            "report %s done in %.1f s: %s rows, %s bytes",
            report.pk,
            elapsed,
            rows,
            report.size,
            extra={"report_id": report.pk, "duration": round(elapsed, 3), "outcome": "done", "rows": rows},
        )
    return report


def write(report, tmp):
    """Stream the report's rows into ``tmp``; return the row count. Raises ``Stop`` at a save point when told."""
    rtype = registry.get(report.type)
    if rtype is None:
        raise Stop(f"This report type ({report.type}) no longer exists.")
    # Checked again here: the owner may have lost the permission while the report waited.
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
    expected = rtype.count(params)
    Report.objects.filter(pk=report.pk).update(expected_rows=expected if rtype.progress_by == "rows" else None)
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
            saver.check(rows, None)  # a last look for cancellation and the time limit before the file is kept
    except BaseException:
        writer.abort()
        raise
    finally:
        # Ends the type's query too, so the default connection has no statement open when the outcome is saved.
        getattr(produced, "close", lambda: None)()
    writer.close()
    return rows


class ProgressSaver:
    """Saves progress (and renews the lease) at most once per interval; checks for stop orders at each save.

    It writes over a connection of its own: while a type streams rows with ``.iterator()``,
    the default connection has a read statement open, and on SQLite a write there would
    see a stale snapshot and fail at once ("database is locked") as soon as anyone else
    (a cancel, say) has written since.
    """

    def __init__(self, report, expected):
        self.report = report
        self.expected = expected
        self.interval = settings.REPORTS_PROGRESS_INTERVAL_SECONDS
        self.deadline = time.monotonic() + settings.REPORTS_TIME_LIMIT_SECONDS
        self.next_save = time.monotonic() + self.interval
        self.saves = 0

    def __enter__(self):
        default = connections[DEFAULT_DB_ALIAS]
        connections[PROGRESS_DB] = type(default)(dict(default.settings_dict), PROGRESS_DB)
        return self

    def __exit__(self, *exc):
        connections[PROGRESS_DB].close()
        del connections[PROGRESS_DB]

    def tick(self, rows, done):
        if time.monotonic() >= self.next_save:
            self.check(rows, done)

    def check(self, rows, done):
        now = time.monotonic()
        self.next_save = now + self.interval
        if now >= self.deadline:
            raise Stop(
                f"The report took longer than the time limit ({settings.REPORTS_TIME_LIMIT_SECONDS} s) and was stopped. "
                "Try a shorter date range."
            )
        if done is not None and stopping():  # at the last look (done is None) the file is whole: keep it
            raise Stop("its consumer is stopping", status=Report.Status.QUEUED)
        fields = {"row_count": rows}
        if done is not None and self.expected:
            fields["progress"] = min(99, int(done * 100 / self.expected))
        self.saves += 1
        if not LEASES.renew_held(self.report, using=PROGRESS_DB, **fields):
            status = (
                Report.objects.using(PROGRESS_DB).filter(pk=self.report.pk).values_list("status", flat=True).first()
            )
            if status == Report.Status.CANCELLED:
                raise Stop("cancelled by its owner", status=Report.Status.CANCELLED)
            raise Stop("lost its claim (the sweeper gave it to another worker)", status=Report.Status.CANCELLED)


def finish(report, tmp, rows):
    """Move the finished file into place and mark the report done (and tell its owner), unless it was cancelled."""
    now = timezone.now()
    name = f"{now:%Y/%m}/{report.pk}-{uuid.uuid4().hex}.{'xlsx' if report.format == 'xlsx' else 'csv'}"
    final = Path(private_storage.path(name))
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    size = final.stat().st_size
    with transaction.atomic():
        done = LEASES.finish(
            report,
            status=Report.Status.DONE,
            progress=100,
            row_count=rows,
            size=size,
            file=name,
            finished_at=now,
            error="",
        )
        if done:
            report.refresh_from_db()
            notify_owner(report)
            site_event.send(
                sender=__name__,
                type="report.ready",
                data={"report_id": report.pk, "type": report.type, "rows": rows, "owner_id": report.owner_id},
                summary=f"Report {report.pk} ({report.type}) is ready: {rows} rows",
            )
    if not done:
        final.unlink(missing_ok=True)
        raise Stop("cancelled just before it was done", status=Report.Status.CANCELLED)


def notify_owner(report):
    """E-mail the owner the link (through the outbox, committed with the report's new state)."""
    if report.owner.email:
        # Bulk: it can wait behind mail a user is waiting for (a welcome, a password reset).
        with priority.sending(priority.BULK):
            emails.ready_message(report).send()


def _fail(report, user_error, trace):
    LEASES.finish(
        report, status=Report.Status.FAILED, error=user_error[:500], traceback=trace, finished_at=timezone.now()
    )


def _user_message(exc):
    """A short message for the owner; the traceback goes to the log and the admin."""
    return f"The report could not be generated ({type(exc).__name__}). The site's staff can see the details."


def _discard(path):
    Path(path).unlink(missing_ok=True)


# --- recovery -----------------------------------------------------------------


def sweep(now=None):
    """Requeue (or fail) reports whose lease expired; return the ids of reports that need a task enqueued."""
    now = now or timezone.now()
    taken = LEASES.sweep(now)
    ids = [r.pk for r in taken if not LEASES.used_up(r)]
    stale_before = now - timedelta(seconds=settings.REPORTS_REQUEUE_AFTER_SECONDS)
    stale = Report.objects.filter(status=Report.Status.QUEUED, enqueued_at__lt=stale_before)
    stale_ids = list(stale.values_list("pk", flat=True))
    if stale_ids:
        stale.filter(pk__in=stale_ids).update(enqueued_at=now)
        logger.warning(
            "reports %s waited over %s s in the queue; enqueued again",
            stale_ids,
            settings.REPORTS_REQUEUE_AFTER_SECONDS,
        )
    return sorted(set(ids) | set(stale_ids))


def recover_orphans():
    """At consumer start: requeue (or fail) reports held by a consumer on this host that no longer runs."""
    return [r.pk for r in LEASES.recover_dead() if not LEASES.used_up(r)]
