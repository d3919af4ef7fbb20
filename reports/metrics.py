"""Reports' metrics for ``/metrics`` (registered with ``operations.registry``; prometheus_client at scrape time)."""

from django.db.models import Count, Min

from operations.registry import metrics_source
from reports.models import Report


@metrics_source
def reports(now):
    """Report rows by status and type, and how long the oldest queued one has waited."""
    from prometheus_client.core import GaugeMetricFamily

    rows = GaugeMetricFamily("mysite_reports", "Report rows by status and type", labels=["status", "type"])
    for status, rtype, n in Report.objects.order_by().values_list("status", "type").annotate(n=Count("pk")):
        rows.add_metric([status, rtype], n)
    yield rows
    oldest = Report.objects.filter(status=Report.Status.QUEUED).aggregate(m=Min("enqueued_at"))["m"]
    yield GaugeMetricFamily(
        "mysite_reports_oldest_queued_age_seconds",
        "How long the oldest queued report has waited (0 when none is queued)",
        value=(now - oldest).total_seconds() if oldest else 0,
    )
