"""Sign-up form: Django's UserCreationForm plus a required, unique e-mail address; the password-reset form."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from notifications import priority


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

    def clean_email(self):
        email = self.cleaned_data["email"]
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's, with the reset e-mail ahead of bulk mail: its reader is waiting for it."""

    def send_mail(self, *args, **kwargs):
        with priority.sending(priority.HIGH):
            super().send_mail(*args, **kwargs)
