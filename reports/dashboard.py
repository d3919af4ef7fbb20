"""Reports' part of the operations page: reports queued or running."""

from operations.registry import dashboard_panel
from reports.models import Report


@dashboard_panel("reports", order=20)
def reports_in_flight(now, limit=20):
    """Reports queued or running, newest first."""
    return list(Report.objects.filter(status__in=Report.ACTIVE).select_related("owner").order_by("-pk")[:limit])
