"""Prune the records Huey's django.tasks backend keeps (``djt.<id>``): it never deletes them itself."""

import datetime
import logging

from django.conf import settings
from django.utils import timezone
from huey.contrib.djhuey import HUEY

logger = logging.getLogger(__name__)
PREFIX = "djt."
FINISHED = ("SUCCESSFUL", "FAILED")


def prune(now=None, days=None):
    """Delete finished django.tasks records older than ``days``; return how many went."""
    now = now or timezone.now()
    days = settings.OPERATIONS_TASK_RESULT_RETENTION_DAYS if days is None else days
    cutoff = now - datetime.timedelta(days=days)
    pruned = 0
    for key in list(HUEY.all_results()):
        key = key.decode() if isinstance(key, bytes) else key
        if not key.startswith(PREFIX):
            continue
        record = HUEY.get(key, peek=True)
        finished = record and record.get("status") in FINISHED and record.get("finished_at")
        if finished and datetime.datetime.fromisoformat(record["finished_at"]) < cutoff:
            HUEY.delete(key)
            pruned += 1
    logger.info("pruned %s django.tasks results finished before %s", pruned, cutoff.isoformat())
    return pruned
