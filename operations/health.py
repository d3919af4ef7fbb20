"""What ``/health/`` reports: the database, the queue storage, the consumer, and each app's probe (the outbox).

Each probe is one cheap query; a probe that fails says why instead of raising,
so the endpoint answers even when half the system is down.
"""

import logging
import os
import shutil
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from operations import registry
from operations.models import HealthState, Heartbeat
from operations.signals import health_changed

logger = logging.getLogger(__name__)


def _probe(func):
    started = time.monotonic()
    try:
        result = func()
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure instead of raising
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "vendor": connection.vendor}


def disk():
    """Free space on the SQLite database's filesystem, failing below OPERATIONS_DISK_FREE_MIN_PERCENT.

    A full disk makes every write fail: warn while there is still room. (PostgreSQL's disk is its server's: not here.)
    """
    if connection.vendor != "sqlite":
        return {"ok": True, "checked": False}
    usage = shutil.disk_usage(os.path.dirname(os.path.abspath(connection.settings_dict["NAME"])))
    free = round(usage.free * 100 / usage.total, 1)
    limit = settings.OPERATIONS_DISK_FREE_MIN_PERCENT
    result = {"ok": free >= limit, "free_percent": free, "free_mb": usage.free // 2**20}
    if not result["ok"]:
        result["error"] = f"{free:g} % free on the database's filesystem (limit {limit:g} %)"
    return result


def queue():
    return {"ok": True, "pending": HUEY.pending_count()}


def consumer(now):
    stale = settings.OPERATIONS_HEARTBEAT_STALE_SECONDS
    last = Heartbeat.objects.filter(stopped_at=None).order_by("-last_seen").values_list("last_seen", flat=True).first()
    if last is None:
        return {"ok": False, "heartbeat_age_seconds": None, "error": "no consumer has ever reported"}
    age = round((now - last).total_seconds(), 1)
    result = {"ok": age <= stale, "heartbeat_age_seconds": age}
    if not result["ok"]:
        result["error"] = f"no consumer heartbeat for {age:.0f} s (limit {stale:.0f} s)"
    return result


def report(now=None):
    """All probes, and whether every one passed."""
    now = now or timezone.now()
    checks = {
        "database": _probe(database),
        "disk": _probe(disk),
        "queue": _probe(queue),
        "consumer": _probe(lambda: consumer(now)),
    }
    for name, probe in registry.health_probes().items():  # the apps' own: the outbox, ...
        checks[name] = _probe(lambda probe=probe: probe(now))
    healthy = all(c["ok"] for c in checks.values())
    status = "ok" if healthy else "fail"
    detail = "; ".join(f"{k}: {c.get('error')}" for k, c in checks.items() if not c["ok"])
    if record_change(status, detail, now):
        health_changed.send(sender=__name__, status=status, checks=checks)
    # Warnings (a periodic task no consumer runs, a task name it cannot import) leave the status alone.
    warnings = [w for c in checks.values() for w in c.get("warnings", [])]
    return {"status": status, "checks": checks, "warnings": warnings, "at": now.isoformat()}


def record_change(status, detail, now):
    """Log a change of status once (True if this poll won it): the conditional UPDATE lets one poll of one process win it.

    A turn to "fail" is an ERROR (settings.LOGGING mails it to the admins); every poll in
    between logs nothing, and ``django.request`` skips /health/'s 503s (SkipHealthFailures).
    """
    try:
        state, _ = HealthState.objects.get_or_create(pk=1, defaults={"status": "ok", "changed_at": now})
        if state.status == status:
            return False  # the usual poll: one indexed read, no write
        won = HealthState.objects.filter(pk=1, status=state.status)
        if won.update(status=status, changed_at=now, detail=detail) != 1:
            return False
    except Exception as exc:  # noqa: BLE001 - the database probe already says why; keep answering
        logger.warning("health %s (%s); could not record it: %s: %s", status, detail, type(exc).__name__, exc)
        return False
    if status == "fail":
        logger.error("health turned fail: %s", detail)
    else:
        logger.warning("health is ok again (failing since %s)", state.changed_at.isoformat(timespec="seconds"))
    return True
