"""Webhooks' part of the operations page: each endpoint, paused ones first with why, and what waits."""

from django.db.models import Count, Q

from operations.registry import dashboard_panel
from webhooks.models import Delivery, Endpoint


@dashboard_panel("webhooks", order=30, template="webhooks/ops_panel.html")
def endpoints(now):
    """Every endpoint with its pending deliveries; paused ones first."""
    rows = Endpoint.objects.annotate(pending=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)))
    return sorted(rows, key=lambda e: (e.paused_at is None, e.name))
