"""Sign-ups per day: how many accounts were created on each day of the range."""

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from reports.forms import DateRangeForm
from reports.registry import ReportType, register
from reports.types.dates import bounds, days


@register
class SignupsPerDay(ReportType):
    slug = "signups-per-day"
    name = "Sign-ups per day"
    description = "New accounts on each day of the range (site time zone), days without sign-ups included."
    form_class = DateRangeForm
    columns = ("date", "sign-ups")

    def count(self, params):
        return (params["end"] - params["start"]).days + 1

    def rows(self, params):
        since, until = bounds(params["start"], params["end"])
        per_day = dict(
            get_user_model()
            .objects.filter(date_joined__gte=since, date_joined__lt=until)
            .annotate(day=TruncDate("date_joined", tzinfo=timezone.get_current_timezone()))
            .values_list("day")
            .annotate(n=Count("id"))
            .values_list("day", "n")
        )
        for day in days(params["start"], params["end"]):
            yield (day, per_day.get(day, 0))
