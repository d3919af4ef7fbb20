"""Numbers for the operations page, read from the rows: never Huey's private stats or registry.

The durable task rows (``operations.activity``) give what runs now under each task's own name, what ran with
its outcome, duration and error, and the tiles; consumer heartbeats say who is alive; each app's panel and
chart series come from ``operations.registry`` (the outbox, reports, durable tasks with their periodic ones).
Huey's queue holds only wake-ups: its depth is shown only when asked (a folded section).
"""

import datetime
import logging
import time
from collections import Counter

from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from huey.contrib.djhuey import HUEY

from durable import health as durable_health
from operations import activity, heartbeat, registry

logger = logging.getLogger(__name__)


def context(now=None):
    """Everything the page shows, each part computed on its own so one failure hides only itself."""
    now = now or timezone.now()
    autodiscover_modules("tasks")  # the periodic declarations exist in this process once their modules are imported
    consumers, alive = heartbeat.latest(now)
    running, lost = activity.running(now, {f"{c.host}:{c.pid}" for c in consumers if c.alive})
    return {
        "now": now,
        "queue_label": heartbeat.queue_label(HUEY.storage),
        "wakeups": wakeups(),
        "totals": activity.totals(now),
        "scheduled": activity.scheduled(now),
        "running": running,
        "lost": lost,
        "runs": activity.recent_runs(),
        "consumers": consumers,
        "consumer_alive": alive,
        "warnings": durable_health.warnings(now),
        **panels(now),
        "chart": chart(now),
    }


def wakeups():
    """Huey's own queue (wake-ups only): pending and scheduled; ``None`` when its storage does not answer."""
    try:
        return {"pending": HUEY.pending_count(), "scheduled": HUEY.scheduled_count()}
    except Exception:  # noqa: BLE001 - the queue may be down; the page still answers and says so
        return None


def panels(now):
    """Each app's panel (``operations.registry``) under its name; one that fails shows as ``None``.

    ``app_panels`` lists those that bring their own template, with their data, for the page to include.
    """
    out = {"app_panels": []}
    for panel in registry.dashboard_panels():
        try:
            out[panel.name] = panel.context(now)
        except Exception:  # noqa: BLE001 - one failing panel must not take the page down
            logger.exception("operations page: panel %s failed", panel.name)
            out[panel.name] = None
        if panel.template and out[panel.name]:
            out["app_panels"].append({"template": panel.template, "data": out[panel.name]})
    return out


def chart(now, hours=24, width=720, height=140):
    """Task attempts finished and e-mails sent per hour over the last ``hours``, laid out as SVG bars."""
    end = now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    start = end - datetime.timedelta(hours=hours)
    tasks = Counter()
    for hour, n in activity.finished_per_hour(start, end):
        tasks[int((hour - start).total_seconds() // 3600)] += n
    emails = Counter()
    for hour, n in registry.chart_series().get("emails", lambda *_: [])(start, end):
        emails[int((hour - start).total_seconds() // 3600)] += n
    top = max([1, *tasks.values(), *emails.values()])
    slot = width / hours
    bar = slot * 0.4
    plot = height - 20
    bars = []
    for i in range(hours):
        at = start + datetime.timedelta(hours=i)
        for offset, count, kind in ((0, tasks[i], "tasks"), (bar, emails[i], "emails")):
            h = plot * count / top
            bars.append(
                {
                    "x": round(i * slot + slot * 0.1 + offset, 1),
                    "y": round(plot - h, 1),
                    "w": round(bar, 1),
                    "h": round(h, 1),
                    "kind": kind,
                    "count": count,
                    "hour": timezone.localtime(at),
                }
            )
    labels = [
        {
            "x": round(i * slot + slot / 2, 1),
            "text": timezone.localtime(start + datetime.timedelta(hours=i)).strftime("%H"),
        }
        for i in range(0, hours, 3)
    ]
    return {
        "bars": bars,
        "labels": labels,
        "width": width,
        "height": height,
        "plot": plot,
        "top": top,
        "tasks_total": sum(tasks.values()),
        "emails_total": sum(emails.values()),
        "measured_at": time.time(),
    }
