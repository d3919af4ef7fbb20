"""Counters that outlive the rows they count: ``/metrics`` reads tally + live rows (``durable.metrics``)."""

from django.db import models


class Tally(models.Model):
    """Figures of attempt rows the daily cleanup deleted, so ``/metrics`` counters (tally + live rows) never go down."""

    key = models.CharField(max_length=255, primary_key=True)
    value = models.FloatField(default=0)

    def __str__(self):
        return f"{self.key} = {self.value:g}"

    @classmethod
    def add(cls, figures, chunk=200):
        """Add ``figures`` (``{key: number}``) to the tallies; inside the caller's transaction.

        Two statements per ``chunk`` keys (an INSERT of the missing ones, one UPDATE with a CASE), not two per key.
        """
        items = [(key, float(value)) for key, value in figures.items() if value]
        for i in range(0, len(items), chunk):
            part = dict(items[i : i + chunk])
            cls.objects.bulk_create([cls(key=key) for key in part], ignore_conflicts=True)
            increment = models.Case(
                *(models.When(key=key, then=models.Value(value)) for key, value in part.items()),
                default=models.Value(0.0),
                output_field=models.FloatField(),
            )
            cls.objects.filter(key__in=list(part)).update(value=models.F("value") + increment)
