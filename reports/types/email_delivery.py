"""E-mail delivery: per day and recipient domain, how many e-mails were queued, sent, failed or still pending."""

from collections import Counter, defaultdict

from notifications.models import Message
from reports.forms import DateRangeForm
from reports.registry import STEP, ReportType, register
from reports.types.dates import bounds, days

ALL = "(all domains)"


@register
class EmailDelivery(ReportType):
    slug = "email-delivery"
    name = "E-mail delivery"
    description = (
        "For each day, e-mails put in the outbox that day and where they stand now, by recipient domain "
        "(an e-mail to two domains counts once for each)."
    )
    form_class = DateRangeForm
    columns = ("date", "recipient domain", "queued", "sent", "failed", "pending", "cancelled")
    progress_by = "steps"  # one step per day: the number of domains is known only after reading them
    permission = "notifications.view_message"  # everyone's mail, counted: for those who may read the outbox

    def count(self, params):
        return (params["end"] - params["start"]).days + 1

    def rows(self, params):
        for day in days(params["start"], params["end"]):
            since, until = bounds(day, day)
            by_domain = defaultdict(Counter)
            outbox = Message.objects.filter(created_at__gte=since, created_at__lt=until)
            for recipients, status in outbox.values_list("recipients", "status").iterator(chunk_size=2000):
                domains = {r.rpartition("@")[2].lower() or "(none)" for r in recipients} or {"(none)"}
                for domain in domains:
                    by_domain[domain][status] += 1
                by_domain[ALL][status] += 1
            for domain in sorted(by_domain, key=lambda d: (d != ALL, d)):
                c = by_domain[domain]
                yield (
                    day,
                    domain,
                    c.total(),
                    c[Message.Status.SENT],
                    c[Message.Status.FAILED],
                    c[Message.Status.QUEUED] + c[Message.Status.SENDING],
                    c[Message.Status.CANCELLED],
                )
            yield STEP
