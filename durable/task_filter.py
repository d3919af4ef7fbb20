"""The operator's task filter: by name, status, queue, group key, flow, and a text search in the arguments.

The operations page's task list and its bulk cancel / retry read the same form, so "all matching" is exactly
what the list shows. Values outside the choices (a forged status or queue) are form errors, answered 400.
"""

from django import forms
from django.db.models import Q

from durable import pause
from durable.models import Task


class TaskFilter(forms.Form):
    """A GET (the list) or POST (a bulk action) of filter fields; ``queryset()`` once valid."""

    name = forms.CharField(required=False, max_length=255, help_text="Dotted path, or the function's name alone.")
    status = forms.ChoiceField(required=False, choices=[("", "any"), *Task.Status.choices])
    queue = forms.ChoiceField(required=False)
    group = forms.CharField(required=False, max_length=64, label="Group key")
    q = forms.CharField(required=False, max_length=200, label="Arguments contain")
    flow = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Chain or batch")

    LABELS = {"name": "name", "status": "status", "queue": "queue", "group": "group", "flow": "flow"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", "any"), *((q, q) for q in pause.queues())]

    def queryset(self):
        """The matching task rows (the form must be valid)."""
        d = self.cleaned_data
        rows = Task.objects.all()
        if d["name"]:
            rows = rows.filter(Q(name=d["name"]) | Q(name__endswith=f".{d['name']}"))
        if d["status"]:
            rows = rows.filter(status=d["status"])
        if d["queue"]:
            rows = rows.filter(queue_name=d["queue"])
        if d["group"]:
            rows = rows.filter(group=d["group"])
        if d["flow"]:
            rows = rows.filter(Q(flow=d["flow"]) | Q(flow__parent=d["flow"]))  # a batch's chains' steps too
        if d["q"]:
            rows = rows.filter(Q(args__icontains=d["q"]) | Q(kwargs__icontains=d["q"]))
        return rows

    def describe(self):
        """``status=queued, name=send_welcome, arguments contain "ann"``, or ``no filter``."""
        d = self.cleaned_data
        parts = [f"{label}={d[key]}" for key, label in self.LABELS.items() if d.get(key)]
        if d.get("q"):
            parts.append(f'arguments contain "{d["q"]}"')
        return ", ".join(parts) or "no filter"

    def params(self):
        """The non-empty filter values, for links and hidden fields that keep the filter."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
