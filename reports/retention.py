"""What the daily cleanup removes for reports: expired files, old records, and files no row points to."""

import logging
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings

from operations.registry import cleanup_source
from reports.models import Report

logger = logging.getLogger(__name__)
BATCH = 500
# A file younger than this is never an orphan: it may belong to a report being finished right now.
ORPHAN_GRACE_SECONDS = 3600


@cleanup_source("reports")
def prunable(now):
    """The cleanup's sources for reports, by label: querysets (deleted in batches) or callables(dry_run)."""
    history_before = now - timedelta(days=settings.REPORTS_HISTORY_DAYS)
    return {
        "expired report files": partial(expire_files, now),
        "old report records": Report.objects.filter(
            status__in=[Report.Status.EXPIRED, Report.Status.FAILED, Report.Status.CANCELLED],
            finished_at__lt=history_before,
        ),
        "orphan report files": partial(delete_orphans, now),
    }


def expire_files(now, dry_run=False):
    """Delete the files of done reports past REPORTS_RETENTION_DAYS and mark them expired; return how many."""
    due = Report.objects.filter(
        status=Report.Status.DONE, finished_at__lt=now - timedelta(days=settings.REPORTS_RETENTION_DAYS)
    )
    if dry_run:
        return due.count()
    total = 0
    while True:
        batch = list(due.order_by("pk")[:BATCH])
        if not batch:
            return total
        for report in batch:
            # Mark first: a download racing with us then answers 410, never a half-deleted file.
            if Report.objects.filter(pk=report.pk, status=Report.Status.DONE).update(
                status=Report.Status.EXPIRED, file=""
            ):
                if report.file:
                    report.file.storage.delete(report.file.name)
                total += 1
        logger.info("reports: %s files expired so far", total)


def delete_orphans(now, dry_run=False):
    """Delete files under REPORTS_ROOT that no report points to (older than an hour); return how many."""
    root = Path(settings.REPORTS_ROOT)
    if not root.is_dir():
        return 0
    known = set(Report.objects.exclude(file="").values_list("file", flat=True))
    running = {
        f"{pk}-{attempt}.part"
        for pk, attempt in Report.objects.filter(status=Report.Status.RUNNING).values_list("pk", "attempts")
    }
    cutoff = now.timestamp() - ORPHAN_GRACE_SECONDS
    count = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        if name in known or path.name in running or path.stat().st_mtime > cutoff:
            continue
        count += 1
        if not dry_run:
            path.unlink(missing_ok=True)
            logger.info("reports: orphan file %s deleted", name)
    return count
