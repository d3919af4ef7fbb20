"""Asking for a report (the request side): one queued row and its durable task, in the caller's transaction."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from durable import call, chain
from reports import registry
from reports.models import Report, params_key
from reports.tasks import email_report_ready, generate_report

logger = logging.getLogger(__name__)


class TooManyActive(Exception):
    """The owner already has REPORTS_MAX_ACTIVE_PER_USER reports queued or running; the message says so."""

    def __init__(self):
        n = settings.REPORTS_MAX_ACTIVE_PER_USER
        super().__init__(
            f"You already have {n} report{'s' if n != 1 else ''} queued or being generated, the most at once. "
            "Wait for one to finish (or cancel one), then ask again."
        )


def request_report(owner, rtype, params, fmt, site_url=""):
    """Create a queued report and enqueue its task, or return the one already queued or running for the same request.

    Returns ``(report, created)``; raises ``TooManyActive`` when the owner has REPORTS_MAX_ACTIVE_PER_USER
    reports queued or running already. The database enforces "one active per request" (a conditional
    unique constraint), so two simultaneous requests cannot both create one. The task is a durable row
    written in the same transaction: committed with the report, or not at all.
    Raises ``registry.NotAllowed`` if ``owner`` may not run ``rtype``; for a type with a permission the
    params record the scope asked for (everyone's data or the owner's own).
    """
    scope = rtype.scope(owner)
    if scope is None:
        rtype.check(owner, registry.ALL)  # raises with the message
    if rtype.permission:
        params = {**params, "scope": scope}
    same = Report.objects.filter(
        owner=owner, type=rtype.slug, format=fmt, status__in=Report.ACTIVE, params_key=params_key(params)
    )
    for _ in range(3):
        try:
            with transaction.atomic():
                active = Report.objects.filter(owner=owner, status__in=Report.ACTIVE).count()
                if active >= settings.REPORTS_MAX_ACTIVE_PER_USER:
                    existing = same.first()
                    if existing is not None:
                        return existing, False
                    logger.info("report for user %s refused: %s active already", owner.pk, active)
                    raise TooManyActive()
                report = Report.objects.create(
                    owner=owner, type=rtype.slug, params=params, format=fmt, site_url=site_url[:200]
                )
                enqueue(report, rank=active)
            logger.info("report %s queued: %s for user %s (%s)", report.pk, rtype.slug, owner.pk, fmt)
            return report, True
        except IntegrityError:
            existing = same.order_by("-id").first()
            if existing is not None:
                return existing, False
            # It finished between our INSERT and this look: try again.
    raise RuntimeError("could not create or find the report after 3 tries")


def enqueue(report, rank=0):
    """Enqueue the report's chain (in the caller's transaction) and note its first task on the row; return that id.

    The chain: ``generate_report``, then ``email_report_ready`` (the owner's e-mail, sent only for a report
    that is done). A report that has its task already keeps it: one report, one chain.

    Fair between users: the task's priority is minus ``rank``, how many reports its owner already has
    queued or running, so the next report to start is the oldest of the owner with the fewest (one
    user's pile never holds up another's first report), whatever order the tasks were enqueued in.
    """
    if report.task_id:
        return report.task_id
    generate = generate_report.using(priority=-min(rank, 100))
    flow = chain(call(generate, report.pk), call(email_report_ready, report.pk)).enqueue()
    report.task_id = int(flow.results[0].id)
    Report.objects.filter(pk=report.pk).update(task_id=report.task_id)
    return report.task_id
