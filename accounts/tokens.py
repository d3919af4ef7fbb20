"""The token of the "confirm your address" link: its own, so no other link opens an account.

Password reset links use Django's ``default_token_generator``; were confirmation to accept them, a
deactivated user could post a reset link to the confirmation URL and be active again. This generator has
its own salt, and its hash covers what confirming changes (``is_active``) and what marks an account that was
ever used (``last_login``): once the account is open, or was ever logged in to, every link made before is void.
"""

from django.contrib.auth.tokens import PasswordResetTokenGenerator


class ConfirmationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.tokens.ConfirmationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        login = "" if user.last_login is None else user.last_login.replace(microsecond=0, tzinfo=None)
        return f"{user.pk}{user.password}{user.is_active}{login}{user.email}{timestamp}"


confirmation_token = ConfirmationTokenGenerator()
