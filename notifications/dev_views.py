"""The development mail page (DEBUG only, staff only): what the outbox holds, and every e-mail template.

Each message is shown as its recipient would see it: the headers, the HTML part in a sandboxed frame
(no scripts, no same-origin), the text part, and the attachments to download. Nothing is sent.
The outbox's rows follow the outbox admin's rules: ``notifications.view_message`` to see them, and a
sensitive body redacted unless a superuser reveals it (logged: ``notifications.redaction``).
"""

from dataclasses import dataclass, field
from email import message_from_bytes, policy
from functools import wraps

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header

from notifications.models import Message
from notifications.redaction import REDACTED, REVEAL, shows_body
from operations.registry import email_previews

READ_OUTBOX = "notifications.view_message"

HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date")


@dataclass
class Rendered:
    """A MIME message taken apart for display."""

    headers: list = field(default_factory=list)
    text: str = ""
    html: str = ""
    attachments: list = field(default_factory=list)  # (filename, content type, size in bytes)


def take_apart(raw):
    """``Rendered`` of MIME bytes (what the outbox stores, or what a preview would store)."""
    mail = message_from_bytes(raw, policy=policy.default)
    text, html = mail.get_body(preferencelist=("plain",)), mail.get_body(preferencelist=("html",))
    return Rendered(
        headers=[(name, mail[name]) for name in HEADERS if mail[name]],
        text=text.get_content() if text is not None else "",
        html=html.get_content() if html is not None else "",
        attachments=[
            (part.get_filename() or f"attachment-{n}", part.get_content_type(), len(part.get_payload(decode=True)))
            for n, part in enumerate(mail.iter_attachments(), 1)
        ],
    )


def attachment(raw, number):
    """The ``number``-th attachment (from 1) of MIME bytes as a download, or 404."""
    parts = list(message_from_bytes(raw, policy=policy.default).iter_attachments())
    if not 1 <= number <= len(parts):
        raise Http404("no such attachment")
    part = parts[number - 1]
    response = HttpResponse(part.get_payload(decode=True), content_type=part.get_content_type())
    response["Content-Disposition"] = content_disposition_header(True, part.get_filename() or f"attachment-{number}")
    return response


def debug_only(view):
    """404 unless DEBUG (mysite.urls does not even route here then); staff only."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.DEBUG:
            raise Http404
        return view(request, *args, **kwargs)

    return staff_member_required(wrapper)


@debug_only
def mail_list(request):
    rows = Message.objects.none()
    if request.user.has_perm(READ_OUTBOX):
        rows = Message.objects.only("pk", "subject", "recipients", "status", "created_at", "reason", "sent_at")[:200]
    context = {"rows": rows, "previews": email_previews().items(), "reads_outbox": request.user.has_perm(READ_OUTBOX)}
    return render(request, "notifications/dev/mail_list.html", context)


def _outbox_row(request, pk):
    if not request.user.has_perm(READ_OUTBOX):
        raise PermissionDenied("Reading the outbox needs the notifications.view_message permission.")
    return get_object_or_404(Message, pk=pk)


@debug_only
def outbox_mail(request, pk):
    row = _outbox_row(request, pk)
    title = f"Outbox {row.pk}: {row.status_in_words()}"
    if shows_body(request.user, row, request):
        return _show(request, take_apart(row.mime()), title, "outbox", pk)
    headers = take_apart(row.mime()).headers
    context = {"mail": Rendered(headers=headers, text=REDACTED), "title": title, "key": pk}
    context["reveal"] = f"?{REVEAL}=1" if request.user.is_superuser else ""
    return render(request, "notifications/dev/mail_detail.html", context)


@debug_only
def outbox_attachment(request, pk, number):
    row = _outbox_row(request, pk)
    if not shows_body(request.user, row, request):
        raise PermissionDenied("This e-mail is sensitive: only a superuser can reveal it.")
    return attachment(row.mime(), number)


def _preview_bytes(slug):
    found = email_previews().get(slug)
    if found is None:
        raise Http404("no such e-mail template")
    title, build = found
    return title, build().message().as_bytes()


@debug_only
def preview_mail(request, slug):
    title, raw = _preview_bytes(slug)
    return _show(request, take_apart(raw), f"Preview: {title} (example data, not sent)", "preview", slug)


@debug_only
def preview_attachment(request, slug, number):
    return attachment(_preview_bytes(slug)[1], number)


def _show(request, rendered, title, kind, key):
    context = {"mail": rendered, "title": title, "attachment_view": f"dev_mail:{kind}_attachment", "key": key}
    return render(request, "notifications/dev/mail_detail.html", context)
