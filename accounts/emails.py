"""The e-mails the accounts app sends."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from notifications import priority


def send_welcome(user, request=None):
    """Queue the welcome e-mail (text and HTML) to ``user`` through the outbox."""
    context = {"user": user, "site_url": request.build_absolute_uri("/") if request else "/"}
    message = EmailMultiAlternatives(
        subject=f"Welcome to mysite, {user.username}",
        body=render_to_string("accounts/email/welcome.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string("accounts/email/welcome.html", context), "text/html")
    with priority.sending(priority.HIGH):  # its reader is waiting for it
        message.send()
