"""The report task: thin, on Django's standard Tasks API with durable options (``reports.generation`` does the work).

Durable claims, renews, recovers and records it like any other task; the ``Report`` row keeps
what is the report's own and is written only by the attempt that started it last.
"""

from django.conf import settings

from durable import options
from durable.compat import task  # django.tasks on Django 6, the backport before
from reports import emails, generation


# The first step of a report's chain (``reports.requests.enqueue``); ``email_report_ready`` is the second.
# group="reports": at most REPORTS_MAX_RUNNING run at once across all consumers (DURABLE_GROUP_LIMITS["reports"]).
# One attempt more than REPORTS_MAX_ATTEMPTS: the last one only marks the report failed, "interrupted N times".
@options(
    group="reports",
    time_limit=settings.REPORTS_TIME_LIMIT_SECONDS,
    max_attempts=settings.REPORTS_MAX_ATTEMPTS + 1,
)
@task(takes_context=True)
def generate_report(context, report_id):
    """Generate report ``report_id`` as attempt ``context.attempt``; returns what became of it (its status)."""
    report = generation.generate(report_id, context.attempt)
    return report.status if report is not None else "not generated (cancelled, finished or gone)"


# The chain's second step: released by durable in the transaction that records generate_report's success, so a
# kill -9 between the two neither loses nor repeats it; ``notify_ready`` sends at most once, and only when done.
@options(max_attempts=5)
@task()
def email_report_ready(status, report_id):
    """E-mail the owner of ``report_id`` that it is ready (``status``: what generation returned; the row decides)."""
    return emails.notify_ready(report_id)
