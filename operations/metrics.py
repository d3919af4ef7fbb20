"""``GET /metrics``: Prometheus metrics read from the rows at scrape time.

One ``prometheus_client`` collector asks every registered source for its metric families, so the
numbers are the database's (they survive restarts and agree across web workers) and nothing is
counted in memory. An app registers a source, a function ``source(now) -> iterable of metric
families``, with ``operations.registry.metrics_source``; this module imports no app. Sources run in
the order registered.

prometheus_client is imported at the first scrape (here and in each source), never at start-up: a
consumer, which is never scraped, does not carry it.
"""

import functools
import logging
import time

from django.utils import timezone
from huey.contrib.djhuey import HUEY

from operations import heartbeat
from operations.registry import metrics_source, metrics_sources

logger = logging.getLogger(__name__)


class RowsCollector:
    """Calls each source at scrape time; a source that fails is reported, not fatal to the scrape."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        now = timezone.now()
        failed = GaugeMetricFamily(
            "mysite_metrics_source_failed", "1 when a metrics source raised during this scrape", labels=["source"]
        )
        took = GaugeMetricFamily(
            "mysite_metrics_source_seconds", "Seconds each metrics source took in this scrape", labels=["source"]
        )
        for source in metrics_sources():
            name = f"{source.__module__}.{source.__name__}"
            started = time.perf_counter()
            try:
                families = list(source(now))
            except Exception:  # noqa: BLE001 - one broken source must not blank the whole scrape
                logger.exception("metrics source %s failed", name)
                families = []
                failed.add_metric([name], 1)
            else:
                failed.add_metric([name], 0)
            took.add_metric([name], time.perf_counter() - started)
            yield from families
        yield failed
        yield took


@functools.cache
def registry():
    """The process's collector registry: a registry of its own, holding only ``RowsCollector``."""
    from prometheus_client.core import CollectorRegistry

    rows = CollectorRegistry(auto_describe=False)
    rows.register(RowsCollector())
    return rows


def scrape():
    """``(body, content type)`` of one scrape, in Prometheus' text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(registry()), CONTENT_TYPE_LATEST


@metrics_source
def consumers(now):
    """Each consumer's heartbeat age, how many are alive, and the Huey queue's own depth."""
    from prometheus_client.core import GaugeMetricFamily

    recent, _ = heartbeat.latest(now)
    age = GaugeMetricFamily(
        "mysite_consumer_heartbeat_age_seconds",
        "Seconds since each running consumer's last heartbeat (seen in the last hour)",
        labels=["host", "pid"],
    )
    for row in recent:
        if row.stopped_at is None:
            age.add_metric([row.host, str(row.pid)], row.age)
    yield age
    yield GaugeMetricFamily(
        "mysite_consumers_alive", "Consumers with a fresh heartbeat", value=sum(r.alive for r in recent)
    )
    depth = GaugeMetricFamily("mysite_huey_tasks", "Tasks in Huey's own storage", labels=["state"])
    depth.add_metric(["pending"], HUEY.pending_count())
    depth.add_metric(["scheduled"], HUEY.scheduled_count())
    yield depth
