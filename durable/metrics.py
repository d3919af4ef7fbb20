"""Durable tasks' metrics for ``/metrics`` read from the rows.

Operations registers ``tasks`` (durable imports nothing above it); prometheus_client is imported at scrape time."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Case, Count, DurationField, ExpressionWrapper, F, Max, Min, Sum, Value, When

from durable import health
from durable.models import Tally, Task, TaskAttempt

# Seconds per attempt: no-op tasks take ms, API calls ~1 s, reports and images minutes.
BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0)
DURATION = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
WATERMARK = "~folded-through-attempt-id"  # Tally key: attempts up to this id are in the tallies
SETTLE = timedelta(seconds=60)


def attempt_figures(attempts):
    """``{key: number}`` of ``attempts`` (a TaskAttempt queryset), keyed ``name|outcome`` and ``name|le_i|count|sum``.

    One grouped query: each row gets its duration bucket from one CASE; the cumulative bucket counts are
    summed here. The cleanup adds the same figures to ``Tally`` before it deletes attempts.
    """
    bucket = Case(
        *(When(duration__lte=timedelta(seconds=b), then=Value(i)) for i, b in enumerate(BUCKETS)),
        default=Value(len(BUCKETS)),
    )
    groups = (
        attempts.order_by()
        .annotate(duration=DURATION)
        .annotate(bucket=bucket)
        .values_list("task__name", "outcome", "bucket")
        .annotate(n=Count("pk"), total=Sum("duration"))
    )
    figures = {}
    for name, outcome, index, n, total in groups:
        _add(figures, f"{name}|outcome|{outcome}", n)
        for i in range(index, len(BUCKETS)):
            _add(figures, f"{name}|le|{i}", n)
        _add(figures, f"{name}|count", n)
        _add(figures, f"{name}|sum", total.total_seconds() if total else 0)
    return figures


def _add(figures, key, n):
    figures[key] = figures.get(key, 0) + n


def fold(now):
    """Move the figures of settled attempts into ``Tally`` and advance its watermark: a scrape then reads few rows.

    Counting every attempt at every scrape joined and grouped them all (100,000 attempts on SQLite: 3 s).
    Attempts finished over ``SETTLE`` ago, up to the highest such id, are added once: the conditional
    UPDATE of the watermark lets one process fold a range. The delay keeps an attempt committed late
    with a lower id (PostgreSQL sequences) from being passed over.
    """
    with transaction.atomic():
        mark = Tally.objects.filter(key=WATERMARK).values_list("value", flat=True).first()
        if mark is None:
            Tally.objects.get_or_create(key=WATERMARK, defaults={"value": 0})
            mark = 0
        settled = TaskAttempt.objects.filter(id__gt=mark, finished_at__lt=now - SETTLE)
        upto = settled.aggregate(m=Max("id"))["m"]
        if upto is None or not Tally.objects.filter(key=WATERMARK, value=mark).update(value=upto):
            return 0
        figures = attempt_figures(TaskAttempt.objects.filter(id__gt=mark, id__lte=upto))
        Tally.add(figures)
        return upto - mark


def figures_now(now):
    """Every attempt's figures: the folded ones (``Tally``, pruned attempts included) plus those past the watermark.

    The tallies and the watermark are read in one statement, so a fold by another process meanwhile
    is counted once: in the attempts past the watermark read here.
    """
    fold(now)
    tallies = dict(Tally.objects.values_list("key", "value"))
    mark = tallies.pop(WATERMARK, 0)
    figures = attempt_figures(TaskAttempt.objects.filter(id__gt=mark))
    for key, value in tallies.items():
        _add(figures, key, value)
    return figures


def tasks(now):
    """Task rows by name and state, the oldest due wait, attempts by outcome, and attempt durations."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily  # at scrape time

    depth = GaugeMetricFamily(
        "mysite_durable_tasks",
        "Durable task rows by task name and state (retrying: queued after a failed attempt)",
        labels=["name", "status"],
    )
    state = Case(When(status=Task.Status.QUEUED, attempts__gt=0, then=Value("retrying")), default=F("status"))
    for name, status, n in (
        Task.objects.order_by().annotate(state=state).values_list("name", "state").annotate(n=Count("pk"))
    ):
        depth.add_metric([name, status], n)
    yield depth

    oldest = Task.objects.filter(status=Task.Status.QUEUED, due_at__lte=now).aggregate(m=Min("due_at"))["m"]
    yield GaugeMetricFamily(
        "mysite_durable_oldest_due_age_seconds",
        "How long the oldest due durable task has waited to start (0 when none is due)",
        value=(now - oldest).total_seconds() if oldest else 0,
    )
    yield GaugeMetricFamily(
        "mysite_durable_warnings",
        "Periodic tasks no running consumer declares, and task names the consumer cannot import (docs/tasks.md)",
        value=len(health.warnings(now)),
    )

    figures = figures_now(now)
    names = sorted({key.split("|", 1)[0] for key in figures})
    attempts = CounterMetricFamily(
        "mysite_durable_task_attempts",
        "Attempts by task name and outcome: successful (finished), retry (failed, retried), failed (gave up), "
        "lost (its consumer died)",
        labels=["name", "outcome"],
    )
    for name in names:
        for outcome in TaskAttempt.Outcome.values:
            attempts.add_metric([name, outcome], figures.get(f"{name}|outcome|{outcome}", 0))
    yield attempts
    duration = HistogramMetricFamily(
        "mysite_durable_task_duration_seconds", "Seconds each attempt ran, by task name", labels=["name"]
    )
    for name in names:
        buckets = [(str(b), figures.get(f"{name}|le|{i}", 0)) for i, b in enumerate(BUCKETS)]
        buckets.append(("+Inf", figures.get(f"{name}|count", 0)))
        duration.add_metric([name], buckets, figures.get(f"{name}|sum", 0))
    yield duration
