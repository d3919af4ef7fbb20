"""The picture page, its upload, the status the page polls, and the published sizes."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from images import decoding, files, intake
from images.forms import PictureForm
from images.models import Picture
from images.uploads import LimitedUploadHandler, declared_too_big
from throttle.limits import account, client, limited

logger = logging.getLogger(__name__)
A_YEAR = 365 * 24 * 3600
# Session key: the newest picture id when the user last uploaded something that made no new picture (refused,
# or their current one again). A refusal up to that id is old news: the page no longer shows it.
SEEN = "images_refusal_seen"


@login_required
@require_GET
def picture(request):
    """The user's picture, the upload form, and "processing" while a new one is being made."""
    return _page(request, PictureForm())


def _page(request, form, status=200):
    state = _state(request)
    if form.errors:
        state["failed"] = None  # this upload's refusal is the news, under the field
    context = {"form": form, **state, "max_mb": settings.IMAGES_MAX_UPLOAD_BYTES / 2**20}
    return render(request, "images/picture.html", context, status=status)


def _state(request):
    """``intake.state`` for the page, less a refusal the user has uploaded past (``SEEN``)."""
    state = intake.state(request.user)
    if state["failed"] is not None and state["failed"].pk <= request.session.get(SEEN, 0):
        state["failed"] = None
    return state


def _moved_past_refusal(request):
    """An upload that made no new picture: the last refusal ("damaged") is no longer what the page says."""
    newest = Picture.objects.filter(user=request.user).order_by("-pk").values_list("pk", flat=True).first()
    if newest is not None:
        request.session[SEEN] = newest


@login_required
@require_POST
@limited("images", client=client, account=account)
@csrf_exempt  # checked by _upload, once our upload handler is in place (Django reads the body for the check)
def upload(request):
    """Accept an upload: refused by size before the body is read, by content from its header; queued otherwise."""
    limit = settings.IMAGES_MAX_UPLOAD_BYTES
    if declared_too_big(request, limit):
        # Nothing is read, nothing changes: answering without the CSRF check reveals and alters nothing.
        logger.info(
            "picture upload by user %s refused: %s bytes declared", request.user.pk, request.META["CONTENT_LENGTH"]
        )
        return _page(request, PictureForm(data={}, too_big=True), status=413)
    handler = LimitedUploadHandler(limit, request)
    request.upload_handlers.insert(0, handler)
    return _upload(request, handler)


@csrf_protect
def _upload(request, handler):
    form = PictureForm(request.POST, request.FILES, too_big=handler.exceeded)
    if not form.is_valid():
        code = form.errors.as_data()["picture"][0].code if "picture" in form.errors else ""
        logger.info("picture upload by user %s refused (%s)", request.user.pk, code or "invalid")
        _moved_past_refusal(request)
        return _page(request, form, status=413 if code == "size" else 400)
    try:
        intake.accept(request.user, form.cleaned_data["picture"], form.inspection)
    except intake.AlreadyUploaded as exc:
        logger.info("picture upload by user %s: same as picture %s, no new job", request.user.pk, exc.picture.pk)
        _moved_past_refusal(request)
        if exc.picture.status == Picture.Status.READY:
            cancelled = intake.keep_current(exc.picture)
            messages.info(
                request,
                "That picture is already your picture."
                + (" The upload still processing was cancelled, so it stays." if cancelled else ""),
            )
        else:
            messages.info(request, "That picture is already being processed.")
        return redirect("images:picture")
    messages.info(request, "Thanks: your picture is being processed and will appear here in a moment.")
    return redirect("images:picture")


@login_required
@require_GET
def status(request):
    """What the page polls: ``{"state": "none" | "processing" | "ready" | "failed", "message", "current"}``."""
    state = _state(request)
    current = state["current"]
    if state["processing"]:
        answer = {"state": "processing", "message": "Processing your new picture…"}
    elif state["failed"]:
        answer = {"state": "failed", "message": state["failed"].error}
    else:
        answer = {"state": "ready" if current else "none", "message": ""}
    answer["current"] = (
        {"id": current.pk, "src": current.src, "large": current.large, "urls": current.urls()} if current else None
    )
    response = JsonResponse(answer)
    patch_cache_control(response, no_store=True)
    return response


@login_required
@require_GET
def derived(request, pk, key, size):
    """One published size, to any signed-in user; immutable (a new upload has new URLs), so cached for a year.

    Originals have no URL at all. A deleted user's pictures, and ones not (or no longer) published, are 404.
    """
    picture = get_object_or_404(
        Picture, pk=pk, user__isnull=False, status__in=[Picture.Status.READY, Picture.Status.REPLACED]
    )
    if key != picture.key or str(size) not in picture.sizes:
        raise Http404("no such picture size")
    not_modified = get_conditional_response(request, etag=picture.etag)
    if not_modified is None:
        _, ext, content_type = decoding.OUTPUTS[picture.output]
        try:
            response = FileResponse(open(files.derived(pk, size, ext), "rb"), content_type=content_type)  # noqa: SIM115
        except FileNotFoundError:
            raise Http404("picture file is gone") from None
    else:
        response = not_modified
    response["ETag"] = picture.etag
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, private=True, max_age=A_YEAR, immutable=True)
    return response
