"""A picture's request side: accept an upload and queue its task (one transaction), and what the page shows.

The task's side (making the sizes, publishing, refusing) is ``images.processing``.
"""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from images import files, processing
from images.models import Picture
from images.tasks import make_sizes

logger = logging.getLogger(__name__)


class AlreadyUploaded(Exception):
    """The same file is already the user's picture, or is being processed: no second job."""

    def __init__(self, picture):
        super().__init__(picture.status)
        self.picture = picture


def accept(user, upload, inspection):
    """Store an inspected upload privately and queue its task, in one transaction; return the ``Picture``.

    Raises ``AlreadyUploaded`` when this user's live picture has the same content (the unique index decides,
    so two simultaneous uploads of one file make one job).
    """
    try:
        with transaction.atomic():
            picture = Picture.objects.create(
                user=user,
                sha256=inspection.sha256,
                source_format=inspection.format,
                width=inspection.width,
                height=inspection.height,
                output=settings.IMAGES_FORMAT,
            )
            files.store_original(picture.pk, upload)  # a rollback after this leaves an orphan: the cleanup's
            picture.task_id = make_sizes.enqueue(picture.pk).id  # committed with the row, or not at all
            picture.save(update_fields=["task_id"])
    except IntegrityError:
        existing = Picture.objects.filter(user=user, sha256=inspection.sha256, status__in=Picture.LIVE).first()
        if existing is None:
            raise
        raise AlreadyUploaded(existing) from None
    logger.info(
        "picture %s uploaded by user %s: %s %sx%s, %s bytes; task %s queued",
        picture.pk,
        user.pk,
        inspection.format,
        inspection.width,
        inspection.height,
        upload.size,
        picture.task_id,
    )
    return picture


def keep_current(current):
    """The user uploaded their current picture again: newer uploads still processing are cancelled, so it stays.

    Returns how many were cancelled.
    """
    newer = Picture.objects.filter(user_id=current.user_id, status=Picture.Status.PROCESSING, pk__gt=current.pk)
    cancelled = 0
    for picture in newer:
        cancelled += processing.fail(picture, "Cancelled: you chose your current picture again.", "cancelled")
    return cancelled


def settle(picture):
    """A processing picture whose task gave up (its consumer died on every attempt) is failed, not left waiting."""
    if picture.status != Picture.Status.PROCESSING or not picture.task_id:
        return picture
    try:
        result = make_sizes.get_result(picture.task_id)
    except Exception:  # noqa: BLE001 - a result pruned or unreadable: keep waiting
        return picture
    if result.status == "FAILED":
        processing.fail(picture, "This picture could not be processed. Try again, or try another picture.", "gave-up")
        picture.refresh_from_db()
    return picture


def state(user):
    """What the picture page shows: the current picture, the newest upload still processing, the last refusal."""
    newest = Picture.objects.filter(user=user).exclude(status=Picture.Status.REPLACED).order_by("-pk").first()
    if newest is not None and newest.status == Picture.Status.PROCESSING:
        newest = settle(newest)
    # The current picture is read after the newest: a picture that became ready between the two reads is then
    # "processing" in one and current in the other, never in neither (the page stopped polling on "none").
    current = Picture.objects.filter(user=user, status=Picture.Status.READY).first()
    return {
        "current": current,
        "processing": newest if newest and newest.status == Picture.Status.PROCESSING else None,
        "failed": newest if newest and newest.status == Picture.Status.FAILED else None,
    }
