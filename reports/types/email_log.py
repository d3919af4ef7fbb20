"""E-mail log: one row per outbox e-mail in the range, streamed (a million rows take no more memory than ten)."""

from notifications.models import Message, addressed_to
from reports.forms import DateRangeForm
from reports.registry import ReportType, register
from reports.types.dates import bounds


@register
class EmailLog(ReportType):
    slug = "email-log"
    name = "E-mail log"
    description = "Every e-mail put in the outbox in the range: when, to whom, subject and outcome."
    form_class = DateRangeForm
    columns = ("id", "queued at", "status", "from", "to", "subject", "attempts", "sent at", "last error")
    # Everyone's addresses and subjects are for those who may read the outbox; others get their own e-mails.
    permission = "notifications.view_message"
    own_scope = True

    def queryset(self, params):
        since, until = bounds(params["start"], params["end"])
        messages = Message.objects.filter(created_at__gte=since, created_at__lt=until)
        if "owner" in params:
            email = params["owner"].email
            if not email:
                return messages.none()
            # A text match narrows it down on every database; ``rows`` keeps exact recipients only.
            messages = messages.filter(recipients__icontains=email)
        return messages

    def count(self, params):
        return self.queryset(params).count()

    def rows(self, params):
        own = params["owner"].email if "owner" in params else None
        fields = ("id", "created_at", "status", "from_email", "recipients", "subject", "attempts", "sent_at")
        # values_list + iterator: no model instances, no result cache, chunks fetched as we go.
        for *head, recipients, subject, attempts, sent_at, error in (
            self.queryset(params)
            .order_by("created_at", "id")  # follows the created_at index: no sort of the whole range first
            .values_list(*fields, "last_error")
            .iterator(chunk_size=2000)
        ):
            if own is not None and not addressed_to(recipients, own):
                continue
            yield (*head, ", ".join(recipients), subject, attempts, sent_at, error)
