"""Who reads a sensitive e-mail's body: the one rule the outbox admin and the development mail page share.

A sensitive body (a password reset or confirmation link: ``notifications.backend.SENSITIVE_HEADER``) signs
its reader in as the recipient. It is redacted for everyone but superusers, and shown to a superuser only
when they ask (``?reveal=1``), which is logged at WARNING.
"""

import logging

logger = logging.getLogger(__name__)
REVEAL = "reveal"
REDACTED = "[Redacted: this e-mail carries a secret (a password reset link, say). Only a superuser can reveal it.]"


def shows_body(user, message, request):
    """Whether ``user`` sees ``message``'s body on this request (a superuser's reveal is logged here)."""
    if not message.sensitive:
        return True
    if user.is_superuser and request.GET.get(REVEAL) == "1":
        logger.warning("outbox %s: sensitive body revealed to superuser %s", message.pk, user.pk)
        return True
    return False
