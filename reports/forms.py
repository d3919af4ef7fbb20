"""Forms: the date range most report types take, and the choice of format."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from reports.models import Report


class DateRangeForm(forms.Form):
    """From and to, inclusive, both required; ``to`` not before ``from``; at most REPORTS_MAX_RANGE_DAYS days."""

    start = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        initial=lambda: timezone.localdate() - timedelta(days=29),
    )
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}), initial=timezone.localdate)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "“To” is before “From”: swap the dates.")
            elif (end - start).days + 1 > settings.REPORTS_MAX_RANGE_DAYS:
                self.add_error(
                    "end", f"The range is {(end - start).days + 1} days; at most {settings.REPORTS_MAX_RANGE_DAYS}."
                )
        return cleaned


class FormatForm(forms.Form):
    format = forms.ChoiceField(choices=Report.Format.choices, initial=Report.Format.CSV)
