"""Numbers for the operations page: Huey's own stats where they serve, the rest from our rows.

Huey's stats recorder (``huey.contrib.djhuey.stats``) gives the queue counts,
pending and scheduled tasks, tasks running now and recent runs with their
duration and error. Added here: consumer heartbeats, periodic tasks with their
last and next run, tasks per hour over a day, and each app's panel and chart
series from ``operations.registry`` (the outbox, reports in flight, e-mails per hour).
"""

import datetime
import logging
import time
from collections import Counter

import peewee
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django_tasks import task_backends
from huey import signals
from huey.contrib import stats as huey_stats
from huey.contrib.djhuey import HUEY

from operations import heartbeat, registry

logger = logging.getLogger(__name__)
FINISHED = (signals.SIGNAL_COMPLETE, signals.SIGNAL_ERROR)
# Huey's HueyBackend runs every Tasks API task inside this one Huey task (stats show it as "run").
TASKS_API_WRAPPER = "djtasks.run"


def context(now=None):
    """Everything the page shows, each part computed on its own so one failure hides only itself."""
    now = now or timezone.now()
    autodiscover_modules("tasks")  # the web process knows the periodic tasks only once imported
    stats = getattr(HUEY, "_stats", None)
    consumers, alive = heartbeat.latest(now)
    running, lost = held(stats.inflight() if stats else [], consumers)
    return {
        "now": now,
        "queue_label": heartbeat.queue_label(HUEY.storage),
        "live": huey_stats.live_counts(HUEY),
        "scheduled": scheduled(),
        "stats_enabled": stats is not None,
        "running": running,
        "lost": lost,
        "runs": recent_runs(stats) if stats else [],
        "overview": stats.overview() if stats else {},
        "consumers": consumers,
        "consumer_alive": alive,
        **panels(now),
        "periodic": periodic(stats, now),
        "chart": chart(stats, now),
    }


def held(inflight, consumers):
    """Huey's in-flight tasks split in two: held by a consumer alive now, and lost with one that died.

    Huey's stats keep no pid with a task, so a task counts as held only when a consumer alive now had
    started before it began; a kill -9 leaves the rows of its tasks behind, older than any live consumer.
    Their work is retried from the rows (the outbox's and durable's sweepers and dead-pid recovery).
    """
    first = min((c.started_at.timestamp() for c in consumers if c.alive), default=None)
    running, lost = [], []
    for task in inflight:
        task["task"] = task_label(task["task"], task["id"])
        (running if first is not None and task["started"] >= first else lost).append(task)
    return running, lost


def task_label(name, task_id, args=None):
    """A task's name for people: a Tasks API task by its own path rather than Huey's wrapper "run"."""
    if not name.endswith(TASKS_API_WRAPPER) and name != TASKS_API_WRAPPER.rsplit(".", 1)[-1]:
        return name
    if args:  # a queued wrapper carries the path as its first argument
        return args[0]
    try:
        return task_backends["default"].get_result(str(task_id)).task.module_path
    except Exception:  # noqa: BLE001 - a pruned or foreign result: fall back to Huey's name
        return name


def scheduled(limit=20):
    """Tasks waiting for their time; ``retry`` when Huey put one back after a failure."""
    try:
        tasks = HUEY.scheduled(limit)
    except Exception:  # noqa: BLE001 - the queue may be down; the page still answers
        return None
    return [
        {
            "task": task_label(type(t).__name__, t.id, t.args),
            "id": t.id,
            "eta": t.eta.replace(tzinfo=datetime.UTC) if t.eta else None,
            "retry": t.retries < type(t).default_retries,
        }
        for t in tasks
    ]


def recent_runs(stats, limit=25):
    """The last finished task runs, with how long each took and its error."""
    runs = [e for e in stats.recent_events(limit * 3) if e["signal"] in FINISHED][:limit]
    for run in runs:
        run["at"] = datetime.datetime.fromtimestamp(run["ts"], datetime.UTC)
        run["task"] = task_label(run["task_full"], run["task_id"])
    return runs


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


def next_run(task, now, horizon_days=8):
    """The next minute (site time) a periodic task's schedule accepts, looking up to ``horizon_days`` ahead."""
    # Huey validates naive UTC minutes.
    minute = now.astimezone(datetime.UTC).replace(second=0, microsecond=0, tzinfo=None) + datetime.timedelta(minutes=1)
    for step in range(horizon_days * 24 * 60):
        candidate = minute + datetime.timedelta(minutes=step)
        if task.validate_datetime(candidate):
            return candidate.replace(tzinfo=datetime.UTC)
    return None


def periodic(stats, now):
    last = {}
    if stats is not None:
        event = huey_stats.HueyEvent
        rows = (
            event.select(event.task, event.signal, peewee.fn.MAX(event.ts))
            .where(event.queue == HUEY.name, event.signal.in_(FINISHED))
            .group_by(event.task, event.signal)
            .tuples()
        )
        for task, signal, ts in rows:
            if task not in last or last[task][0] < ts:
                last[task] = (ts, signal)
    last = {task: (datetime.datetime.fromtimestamp(ts, datetime.UTC), signal) for task, (ts, signal) in last.items()}
    out = []
    for task in HUEY._registry.periodic_tasks:
        full = f"{type(task).__module__}.{type(task).__name__}"
        when, signal = last.get(full, (None, None))
        out.append({"task": full, "last": when, "last_ok": signal != signals.SIGNAL_ERROR, "next": next_run(task, now)})
    return out


def chart(stats, now, hours=24, width=720, height=140):
    """Tasks finished and e-mails sent per hour over the last ``hours``, laid out as SVG bars."""
    end = now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    start = end - datetime.timedelta(hours=hours)
    tasks = Counter()
    if stats is not None:
        for (ts,) in (
            huey_stats.HueyEvent.select(huey_stats.HueyEvent.ts)
            .where(
                huey_stats.HueyEvent.queue == HUEY.name,
                huey_stats.HueyEvent.signal.in_(FINISHED),
                huey_stats.HueyEvent.ts >= start.timestamp(),
            )
            .tuples()
        ):
            tasks[int((ts - start.timestamp()) // 3600)] += 1
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
