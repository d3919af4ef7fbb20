"""The e-mails the accounts app sends."""

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from notifications import previews


def welcome_message(user, site_url="/"):
    """The welcome e-mail (text and HTML) to ``user``, not yet sent."""
    context = {"user": user, "site_url": site_url}
    message = EmailMultiAlternatives(
        subject=f"Welcome to mysite, {user.username}",
        body=render_to_string("accounts/email/welcome.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string("accounts/email/welcome.html", context), "text/html")
    return message


def send_welcome(user, request=None):
    """Queue the welcome e-mail to ``user`` through the outbox."""
    welcome_message(user, request.build_absolute_uri("/") if request else "/").send()


@previews.register("Welcome")
def welcome_preview():
    return welcome_message(User(username="ann", email="ann@example.com"), "https://mysite.example.com/")


@previews.register("Password reset")
def password_reset_preview():
    """Django's password reset e-mail, as ``PasswordResetForm`` builds it, for an unsaved example user."""
    user = User(pk=1, username="ann", email="ann@example.com", password="!", last_login=None)
    context = {
        "email": user.email,
        "domain": "mysite.example.com",
        "site_name": "mysite",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https",
    }
    # What PasswordResetForm.send_mail does with these templates, without sending.
    subject = "".join(render_to_string("registration/password_reset_subject.txt", context).splitlines())
    body = render_to_string("registration/password_reset_email.html", context)
    return EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
