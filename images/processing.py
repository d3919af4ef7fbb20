"""A picture's life: accepted in the request, made into sizes by the task, published or refused, settled."""

import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from images import decoding, files
from images.models import Picture

logger = logging.getLogger(__name__)


PUBLISHED = (Picture.Status.READY, Picture.Status.REPLACED)


class AlreadyUploaded(Exception):
    """The same file is already the user's picture, or is being processed: no second job."""

    def __init__(self, picture):
        super().__init__(picture.status)
        self.picture = picture


def limits():
    return decoding.Limits(
        max_pixels=settings.IMAGES_MAX_PIXELS,
        max_side=settings.IMAGES_MAX_SIDE,
        max_bytes=settings.IMAGES_MAX_DECODE_BYTES,
    )


def accept(user, upload, inspection):
    """Store an inspected upload privately and queue its task, in one transaction; return the ``Picture``.

    Raises ``AlreadyUploaded`` when this user's live picture has the same content (the unique index decides,
    so two simultaneous uploads of one file make one job).
    """
    from images.tasks import make_sizes

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


def process(picture_id):
    """Make the sizes of a processing picture and publish it, or refuse it with the user's message.

    Idempotent (at-least-once): a picture no longer processing is left alone, and files are rewritten whole.
    """
    picture = Picture.objects.filter(pk=picture_id, status=Picture.Status.PROCESSING).first()
    if picture is None:
        logger.info("picture %s: not processing any more, nothing to do", picture_id)
        return "skipped"
    began = time.monotonic()
    try:
        made = decoding.render(
            files.original(picture.pk),
            picture.pk,
            settings.IMAGES_SIZES,
            picture.output,
            settings.IMAGES_QUALITY,
            limits(),
        )
    except decoding.ImageRefused as exc:
        fail(picture, str(exc), exc.code)
        return "failed"
    status = publish(picture, made)
    if status == "skipped" and not Picture.objects.filter(pk=picture.pk, status__in=PUBLISHED).exists():
        files.remove(picture.pk)  # cancelled while we worked: nothing of it stays
    logger.info(
        "picture %s %s in %.2f s: %s %sx%s -> %s %s",
        picture.pk,
        status,
        time.monotonic() - began,
        picture.source_format,
        picture.width,
        picture.height,
        picture.output,
        ", ".join(f"{w}x{h}" for w, h in made.values()),
    )
    return status


def publish(picture, made):
    """Make ``picture`` its user's current one and the previous one replaced, in one transaction.

    A newer upload that is already ready wins: this one goes straight to replaced.
    """
    with transaction.atomic():
        mine = Picture.objects.select_for_update().filter(user_id=picture.user_id, status=Picture.Status.READY)
        newer = [p for p in mine if p.pk > picture.pk]
        status = Picture.Status.REPLACED if newer or picture.user_id is None else Picture.Status.READY
        now = timezone.now()
        if not Picture.objects.filter(pk=picture.pk, status=Picture.Status.PROCESSING).update(
            status=status, sizes={str(k): v for k, v in made.items()}, finished_at=now
        ):
            return "skipped"  # another attempt recorded it first
        if status == Picture.Status.READY:
            mine.filter(pk__lt=picture.pk).update(status=Picture.Status.REPLACED, finished_at=now)
    return status


def fail(picture, message, code="damaged"):
    """Refuse ``picture``: the user's message on the row, its files deleted; the current picture stays.

    Returns False when it was no longer processing (nothing changed).
    """
    if not Picture.objects.filter(pk=picture.pk, status=Picture.Status.PROCESSING).update(
        status=Picture.Status.FAILED, error=message[:300], finished_at=timezone.now()
    ):
        return False
    files.remove(picture.pk)
    logger.info("picture %s refused (%s): %s", picture.pk, code, message)
    return True


def keep_current(current):
    """The user uploaded their current picture again: newer uploads still processing are cancelled, so it stays.

    Returns how many were cancelled.
    """
    newer = Picture.objects.filter(user_id=current.user_id, status=Picture.Status.PROCESSING, pk__gt=current.pk)
    cancelled = 0
    for picture in newer:
        cancelled += fail(picture, "Cancelled: you chose your current picture again.", "cancelled")
    return cancelled


def settle(picture):
    """A processing picture whose task gave up (its consumer died on every attempt) is failed, not left waiting."""
    from images.tasks import make_sizes

    if picture.status != Picture.Status.PROCESSING or not picture.task_id:
        return picture
    try:
        result = make_sizes.get_result(picture.task_id)
    except Exception:  # noqa: BLE001 - a result pruned or unreadable: keep waiting
        return picture
    if result.status == "FAILED":
        fail(picture, "This picture could not be processed. Try again, or try another picture.", "gave-up")
        picture.refresh_from_db()
    return picture


def state(user):
    """What the picture page shows: the current picture, the newest upload still processing, the last refusal."""
    current = Picture.objects.filter(user=user, status=Picture.Status.READY).first()
    newest = Picture.objects.filter(user=user).exclude(status=Picture.Status.REPLACED).order_by("-pk").first()
    if newest is not None and newest.status == Picture.Status.PROCESSING:
        newest = settle(newest)
    return {
        "current": current,
        "processing": newest if newest and newest.status == Picture.Status.PROCESSING else None,
        "failed": newest if newest and newest.status == Picture.Status.FAILED else None,
    }
