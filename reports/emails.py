"""The e-mails the reports app sends."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from notifications import priority
from operations.registry import email_preview
from reports.models import Report

logger = logging.getLogger(__name__)


def ready_message(report):
    """The "your report is ready" e-mail to the report's owner, not yet sent."""
    link = (report.site_url or "") + reverse("reports:download", args=[report.pk])
    page = (report.site_url or "") + report.get_absolute_url()
    return EmailMessage(
        subject=f"Your report is ready: {report.type_name}",
        body=(
            f"Hello {report.owner.get_username()},\n\n"
            f"your report “{report.type_name}” is ready: {report.row_count} rows.\n\n"
            f"Download: {link}\nDetails: {page}\n\n"
            f"It can be downloaded until {timezone.localtime(report.expires_at):%Y-%m-%d %H:%M %Z}.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[report.owner.email],
    )


def notify_ready(report_id):
    """E-mail the owner that report ``report_id`` is ready: once, and only for a report that is done.

    The outbox row and the report's ``notified_at`` commit together, so a step run again (its consumer
    killed after this commit, before its own outcome's) finds it noted and sends nothing. Returns what it did.
    """
    with transaction.atomic():
        if not Report.objects.filter(pk=report_id, status=Report.Status.DONE, notified_at=None).update(
            notified_at=timezone.now()
        ):
            status = Report.objects.filter(pk=report_id).values_list("status", flat=True).first()
            logger.info("report %s: no ready e-mail (status %s, or sent already)", report_id, status)
            return "not sent"
        report = Report.objects.select_related("owner").get(pk=report_id)
        if not report.owner.email:
            return "no address"
        # Bulk: it can wait behind mail a user is waiting for (a welcome, a password reset).
        with priority.sending(priority.BULK):
            ready_message(report).send()
    logger.info("report %s: ready e-mail queued for its owner", report_id)
    return "sent"


@email_preview("Report ready")
def ready_preview():
    owner = User(username="ann", email="ann@example.com")
    report = Report(
        pk=42,
        owner=owner,
        type="signups-per-day",
        status=Report.Status.DONE,
        row_count=1280,
        site_url="https://mysite.example.com",
        finished_at=timezone.now() - timedelta(minutes=1),
    )
    return ready_message(report)
