import time

from django import forms

from reports.registry import ReportType


class PacedForm(forms.Form):
    rows = forms.IntegerField(min_value=1, max_value=100_000)


class Paced(ReportType):
    """``rows`` rows, one every ``SECONDS_PER_ROW`` (slept a hundred rows at a time): 1,000 rows take a second."""

    slug = "test-paced"
    name = "Test paced"
    form_class = PacedForm
    columns = ("n", "square")
    SECONDS_PER_ROW = 0.001

    def count(self, params):
        return params["rows"]

    def rows(self, params):
        for n in range(params["rows"]):
            if n % 100 == 0:
                time.sleep(100 * self.SECONDS_PER_ROW)
            yield (n, n * n)
