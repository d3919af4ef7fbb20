"""The e-mails the accounts app sends."""

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sites.shortcuts import get_current_site
from django.core.mail import EmailMultiAlternatives, send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.tokens import confirmation_token
from notifications import priority
from notifications.backend import SENSITIVE_HEADER
from operations.registry import email_preview


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
    """Queue the welcome e-mail to ``user`` through the outbox, ahead of bulk mail: its reader is waiting for it."""
    with priority.sending(priority.HIGH):
        welcome_message(user, request.build_absolute_uri("/") if request else "/").send()


@email_preview("Welcome")
def welcome_preview():
    return welcome_message(User(username="ann", email="ann@example.com"), "https://mysite.example.com/")


@email_preview("Password reset")
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


def send_no_account(email, request, from_email=None, domain_override=None, use_https=False):
    """Queue "someone asked to reset a password for this address, which has no account" to ``email``."""
    site = get_current_site(request)
    domain = domain_override or site.domain
    base = f"{'https' if use_https else 'http'}://{domain}"
    context = {"email": email, "domain": domain, "signup_url": base + reverse("signup")}
    with priority.sending(priority.HIGH):  # answers a reset request like a real reset does
        send_mail(
            subject=f"No account on {domain} with this address",
            message=render_to_string("accounts/email/reset_no_account.txt", context),
            from_email=from_email or settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )


def _absolute(request, name, *args):
    return request.build_absolute_uri(reverse(name, args=args))


def send_confirmation(user, request):
    """Queue the "confirm your address" e-mail: its link opens the account and signs its reader in (sensitive)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    context = {
        "user": user,
        "confirm_url": _absolute(request, "signup_confirm", uid, confirmation_token.make_token(user)),
    }
    with priority.sending(priority.HIGH):  # its reader is waiting for it
        EmailMultiAlternatives(
            subject="Confirm your address to finish signing up to mysite",
            body=render_to_string("accounts/email/confirm.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[user.email],
            headers={SENSITIVE_HEADER: "yes"},
        ).send()


def send_already_signed_up(email, request):
    """Queue "someone tried to sign up with your address" to the owner of an existing account."""
    context = {"login_url": _absolute(request, "login"), "reset_url": _absolute(request, "password_reset")}
    with priority.sending(priority.HIGH):  # sent in place of a confirmation, and as fast
        send_mail(
            subject="Someone tried to sign up to mysite with your address",
            message=render_to_string("accounts/email/already_signed_up.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
