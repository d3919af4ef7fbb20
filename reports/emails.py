"""The e-mails the reports app sends."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone

from operations.registry import email_preview
from reports.models import Report


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
