"""A picture's sizes: made by the task (``images.tasks.make_sizes``), then published, or the picture refused.

The request side (accepting an upload, queuing the task, what the page shows) is ``images.intake``.
"""

import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from images import decoding, files
from images.models import Picture

logger = logging.getLogger(__name__)


PUBLISHED = (Picture.Status.READY, Picture.Status.REPLACED)


def limits():
    return decoding.Limits(
        max_pixels=settings.IMAGES_MAX_PIXELS,
        max_side=settings.IMAGES_MAX_SIDE,
        max_bytes=settings.IMAGES_MAX_DECODE_BYTES,
    )


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
