"""Sign-up form: Django's UserCreationForm plus a required e-mail address; the password reset form.

Whether an address has an account is never said on a page: the sign-up view and the reset form answer
alike and tell the address's owner by e-mail instead.
"""

import logging

from django import forms
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.template import loader

from accounts.emails import send_no_account
from notifications import priority
from notifications.backend import SENSITIVE_HEADER

logger = logging.getLogger(__name__)


class SignupForm(UserCreationForm):
    email = forms.EmailField(max_length=254, help_text="We send a welcome e-mail here.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean(self):
        cleaned = super().clean()
        for name in ("username", "email", "password1", "password2"):
            value = self.data.get(name, "")
            if isinstance(value, str) and ("\r" in value or "\n" in value):
                self.add_error(name, "Line breaks are not allowed here.")
        return cleaned


class SensitivePasswordResetForm(PasswordResetForm):
    """Django's password reset, its e-mail marked sensitive: the link in it signs its reader in as the user.

    An address with no account gets an e-mail too ("there is no account with this address"), so the
    answer and its cost are the same whether the address is known or not: no enumeration by page or by time.
    """

    def get_users(self, email):
        for user in super().get_users(email):
            self.found = True
            yield user

    def save(self, *args, **kwargs):
        self.found = False
        super().save(*args, **kwargs)
        if not self.found:
            send_no_account(
                self.cleaned_data["email"],
                kwargs.get("request"),
                kwargs.get("from_email"),
                kwargs.get("domain_override"),
                kwargs.get("use_https", False),
            )

    def send_mail(
        self, subject_template_name, email_template_name, context, from_email, to_email, html_email_template_name=None
    ):
        # Django's PasswordResetForm.send_mail (5.2), with the header added: it offers no hook for headers.
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email], headers={SENSITIVE_HEADER: "yes"})
        if html_email_template_name is not None:
            message.attach_alternative(loader.render_to_string(html_email_template_name, context), "text/html")
        try:
            with priority.sending(priority.HIGH):  # its reader is waiting for it
                message.send()
        except Exception:
            logger.exception("Failed to send password reset email to %s", context["user"].pk)
