"""The daily cleanup prunes finished webhook deliveries past retention, never pending ones."""

from datetime import timedelta

import pytest
from django.utils import timezone

from operations import cleanup
from webhooks.models import Attempt, Delivery, Endpoint, Event

pytestmark = pytest.mark.django_db


def test_finished_deliveries_past_retention_go_with_their_attempts_and_events(settings):
    settings.WEBHOOKS_RETENTION_DAYS = 30
    ep = Endpoint.objects.create(name="r", url="http://127.0.0.1:9/", events=["report.ready"])
    old = timezone.now() - timedelta(days=31)
    for status in ("delivered", "failed", "pending"):
        event = Event.objects.create(type="report.ready", occurred_at=old)
        d = Delivery.objects.create(endpoint=ep, event=event, status=status, finished_at=old)
        Attempt.objects.create(delivery=d, number=1, outcome="retry")
    recent = Event.objects.create(type="report.ready")
    Delivery.objects.create(endpoint=ep, event=recent, status="delivered", finished_at=timezone.now())

    counts = cleanup.run()

    assert counts["webhook deliveries and their attempts"] == 4 and counts["webhook events"] == 2
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["delivered", "pending"]
    assert Attempt.objects.count() == 1 and Event.objects.count() == 2
