"""The e-mails the operations app sends."""

from django.conf import settings
from django.core.mail import EmailMessage

from operations.registry import email_preview

TEST_SUBJECT = "mysite test e-mail"


def test_message(to, requested_by=""):
    """The operator's test e-mail to ``to``, not yet sent."""
    return EmailMessage(
        TEST_SUBJECT,
        f"This is a test e-mail from mysite, requested by {requested_by or 'an operator'}.\n"
        "If you can read it, the outbox, the consumer and the mail relay all work.",
        settings.DEFAULT_FROM_EMAIL,
        [to],
    )


@email_preview("Test e-mail")
def test_preview():
    return test_message("ops@example.com", requested_by="ann")
