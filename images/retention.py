"""What the daily cleanup removes for pictures: a deleted user's, replaced ones, old refusals, orphan folders."""

import logging
import time
from datetime import timedelta
from functools import partial

from django.conf import settings

from images import files
from images.models import Picture
from operations.registry import cleanup_source

logger = logging.getLogger(__name__)
BATCH = 200
# A folder younger than this is never an orphan: its upload's transaction may still be open.
ORPHAN_GRACE_SECONDS = 3600


@cleanup_source("images")
def prunable(now):
    """The cleanup's sources for pictures, by label: callables(dry_run) deleting rows and then their files."""
    replaced_before = now - timedelta(hours=settings.IMAGES_REPLACED_RETENTION_HOURS)
    return {
        "pictures of deleted users": partial(delete_pictures, Picture.objects.filter(user__isnull=True)),
        "replaced pictures": partial(
            delete_pictures, Picture.objects.filter(status=Picture.Status.REPLACED, finished_at__lt=replaced_before)
        ),
        # Refused pictures have no files left; their rows say why for a while (admin, support).
        "refused pictures": Picture.objects.filter(
            status=Picture.Status.FAILED,
            finished_at__lt=now - timedelta(days=settings.IMAGES_FAILED_RETENTION_DAYS),
        ),
        "orphan picture folders": delete_orphans,
    }


def delete_pictures(queryset, dry_run=False):
    """Delete the pictures of ``queryset``, each row before its folder (a file without a row is an orphan,
    found next time; a row without files would be served as a 404). Return how many."""
    if dry_run:
        return queryset.count()
    total = 0
    while ids := list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH]):
        Picture.objects.filter(pk__in=ids).delete()
        for pk in ids:
            files.remove(pk)
        total += len(ids)
    return total


def delete_orphans(dry_run=False):
    """Delete folders under the images root that no row names (older than an hour); return how many."""
    root = files.root()
    if not root.is_dir():
        return 0
    cutoff = time.time() - ORPHAN_GRACE_SECONDS
    folders = {p.name: p for p in root.iterdir() if p.is_dir() and p.stat().st_mtime < cutoff}
    known = {
        str(pk)
        for pk in Picture.objects.filter(pk__in=[n for n in folders if n.isdigit()]).values_list("pk", flat=True)
    }
    orphans = [name for name in folders if name not in known]
    if not dry_run:
        for name in orphans:
            files.remove(name)
        if orphans:
            logger.info("images: %s orphan picture folders deleted", len(orphans))
    return len(orphans)
