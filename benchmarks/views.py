"""Three views that differ only in how (or whether) they send one e-mail."""

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.http import HttpResponse

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def nothing(request):
    return HttpResponse("ok")


def outbox(request):
    """The project's way: the e-mail becomes an outbox row plus a wake-up."""
    send_mail("Bench outbox", "Hello from the outbox.", None, ["to@example.com"])
    return HttpResponse("ok")


def inline(request):
    """The naive way: talk to the relay inside the request (port from ?port=)."""
    connection = get_connection(SMTP_BACKEND, host="127.0.0.1", port=int(request.GET["port"]), timeout=10)
    send_mail("Bench inline", "Hello, inline.", settings.DEFAULT_FROM_EMAIL, ["to@example.com"], connection=connection)
    return HttpResponse("ok")
