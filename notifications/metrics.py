"""The outbox's metrics for ``/metrics`` (registered with ``operations.registry``).

prometheus_client is imported at scrape time, in the source: a consumer never scrapes, and does not carry it.
"""

from django.db.models import Case, Count, Min, Sum, Value, When

from notifications.models import Attempt, Message, MetricTally
from operations.registry import metrics_source

# Seconds from the first SMTP command to the relay's answer: a loopback relay answers in ms, a
# remote one in a few hundred ms, a struggling one in seconds.
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def attempt_figures(attempts):
    """``{key: number}`` of ``attempts``: per outcome, per duration bucket, count and sum.

    One pass: each row gets its bucket from one CASE and is grouped by (outcome, bucket), a
    dozen result rows; the cumulative bucket counts are summed here. The same figures are added
    to ``MetricTally`` for attempts the cleanup deletes, so a counter (tally + live rows) never
    goes down.
    """
    bucket = Case(*(When(duration__lte=b, then=Value(i)) for i, b in enumerate(BUCKETS)), default=Value(len(BUCKETS)))
    groups = attempts.order_by().annotate(bucket=bucket).values_list("outcome", "bucket")
    figures = dict.fromkeys([f"outcome_{o}" for o in Attempt.Outcome.values], 0)
    figures |= dict.fromkeys([f"le_{i}" for i in range(len(BUCKETS))] + ["count", "sum"], 0)
    for outcome, index, n, total in groups.annotate(n=Count("pk"), total=Sum("duration")):
        figures[f"outcome_{outcome}"] = figures.get(f"outcome_{outcome}", 0) + n
        for i in range(index, len(BUCKETS)):
            figures[f"le_{i}"] += n
        figures["count"] += n
        figures["sum"] += total or 0
    return figures


@metrics_source
def outbox(now):
    """Outbox rows by status, the oldest due wait, rows waiting for a limit, attempts and their durations."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    by_status = dict(Message.objects.order_by().values_list("status").annotate(n=Count("pk")))
    rows = GaugeMetricFamily("mysite_outbox_messages", "Outbox rows by status", labels=["status"])
    for status in Message.Status.values:
        rows.add_metric([status], by_status.get(status, 0))
    yield rows

    oldest = Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=now).aggregate(m=Min("due_at"))["m"]
    yield GaugeMetricFamily(
        "mysite_outbox_oldest_due_age_seconds",
        "How long the oldest due e-mail has waited (0 when none is due)",
        value=(now - oldest).total_seconds() if oldest else 0,
    )

    waiting = GaugeMetricFamily(
        "mysite_outbox_waiting_messages",
        "Queued e-mails held back by a rate limit or a relay's slow-down, by reason",
        labels=["reason"],
    )
    held = Message.objects.filter(status=Message.Status.QUEUED).exclude(reason="").order_by()
    for reason, n in held.values_list("reason").annotate(n=Count("pk")):
        waiting.add_metric([reason], n)
    yield waiting

    figures = attempt_figures(Attempt.objects.order_by())
    for tally in MetricTally.objects.filter(key__startswith=MetricTally.ATTEMPTS):
        key = tally.key.removeprefix(MetricTally.ATTEMPTS)
        figures[key] = figures.get(key, 0) + tally.value
    attempts = CounterMetricFamily(
        "mysite_email_attempts",
        "Delivery attempts by outcome (sent, retry, failed, deferred = relay said slow down, uncounted)",
        labels=["outcome"],
    )
    for outcome in Attempt.Outcome.values:
        attempts.add_metric([outcome], figures[f"outcome_{outcome}"])
    yield attempts
    buckets = [(str(b), figures[f"le_{i}"]) for i, b in enumerate(BUCKETS)] + [("+Inf", figures["count"])]
    yield HistogramMetricFamily(
        "mysite_email_attempt_duration_seconds",
        "Seconds each delivery attempt took, first SMTP command to the relay's answer",
        buckets=buckets,
        sum_value=figures["sum"],
    )
