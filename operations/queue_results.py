"""Prune Huey's result store: results nobody read for a whole cleanup interval.

Huey keeps a task's return value until someone reads it, with no time stamp. Our
tasks return nothing (``store_none=False`` then stores nothing), but a result left
by a task that returns one, and never read, would stay forever. The daily cleanup
remembers the result keys it saw (under ``MARKER`` in the same storage, so the memory lives and
goes with the results); those still there a run later are deleted. Locks and revocations (keys that are
not task ids) are left alone.
"""

import json
import logging
import re

from huey.contrib.djhuey import HUEY

logger = logging.getLogger(__name__)
MARKER = "mysite.queue-results.seen"
TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
REMEMBER_AT_MOST = 10_000


def result_keys(storage=None):
    """The keys of task results in the result store now (task ids; not locks or revocations)."""
    storage = storage or HUEY.storage
    keys = (k if isinstance(k, str) else k.decode() for k in storage.result_items())
    return {k for k in keys if TASK_ID.match(k)}


def prune(dry_run=False, storage=None):
    """Delete results already there at the last run; remember the rest for the next. Return how many."""
    storage = storage or HUEY.storage
    now_keys = result_keys(storage)
    stale = now_keys & seen(storage)
    if dry_run:
        return len(stale)
    for key in stale:
        storage.delete_data(key)
    fresh = sorted(now_keys - stale)[:REMEMBER_AT_MOST]
    storage.put_data(MARKER, json.dumps(fresh).encode())
    if stale:
        logger.info("queue results: %s unread results pruned, %s kept for a run", len(stale), len(fresh))
    return len(stale)


def seen(storage):
    """The result keys the last run saw (none before a first run)."""
    data = storage.peek_data(MARKER)
    if not isinstance(data, bytes | str):  # Huey's EmptyData: no run yet
        return set()
    return set(json.loads(data))
