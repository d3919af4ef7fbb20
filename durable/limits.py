"""Per-key limits, across all consumers: a running cap per group key, and a start rate per key.

::

    @options(group=lambda customer_id, **kw: f"customer:{customer_id}", concurrency=1, rate="10/s")
    @task()
    def sync_customer(customer_id): ...

A task's key is its ``group`` (a name, or a callable of its arguments, run at enqueue) and is stored on its
row. Both limits are checked right after a claim, against the rows themselves, so they hold whatever the
consumers, hosts, queue storage or database: of a key's running rows, the first ``concurrency`` by claim time
keep theirs; of the rows of a key claimed within the rate's period (and not given back), the first N keep
theirs. The others go back to the queue untried, and a wake-up is scheduled for when the rate's window has
room, so a task over its key's cap or rate waits as a queued row, never holding a worker. While grouped
tasks were claimed in the last minute, claims also leave out the keys that are full (no row claimed and given
back over and over); otherwise that query is skipped.

``concurrency`` without a value falls back to ``DURABLE_GROUP_LIMITS[group]`` (default 1), as before.
"""

import functools
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from django.utils.module_loading import import_string

from durable.compat import Task
from durable.models import Task as TaskRow
from durable.options import DEFAULT, options_of, parse_rate

_seen_until = 0.0  # while grouped tasks are around, claims leave out the keys that are full
_periods_seen = set()  # the rate periods of tasks this process claimed


@functools.lru_cache(maxsize=4096)
def _options(name):
    try:
        task = import_string(name)
    except ImportError:
        return DEFAULT
    return options_of(task) if isinstance(task, Task) else DEFAULT


def cap(name, key):
    """The running cap of ``key`` for tasks named ``name``: their ``concurrency``, else DURABLE_GROUP_LIMITS."""
    return _options(name).concurrency or settings.DURABLE_GROUP_LIMITS.get(key, 1)


def rate(name):
    """``(starts, seconds)`` of the task named ``name``, or None."""
    text = _options(name).rate
    return parse_rate(text) if text else None


def narrow(queryset):
    """The claim's filter: leave out keys at their cap or rate (only while grouped tasks were claimed lately)."""
    if time.monotonic() >= _seen_until:
        return queryset
    full = _full_keys(timezone.now())
    return queryset.exclude(group__in=full) if full else queryset


def _full_keys(now):
    counts, caps = defaultdict(int), {}
    running = TaskRow.objects.filter(status=TaskRow.Status.RUNNING).exclude(group="")
    for key, name, n in running.values_list("group", "name").annotate(n=Count("id")).order_by():
        counts[key] += n
        caps[key] = min(caps.get(key, n + 1), cap(name, key))
    full = {key for key, n in counts.items() if n >= caps[key]}
    for seconds in sorted(_periods_seen):
        recent = (
            _started(now - timedelta(seconds=seconds))
            .exclude(group="")
            .values_list("group", "name")
            .annotate(n=Count("id"))
        )
        for key, name, n in recent.order_by():
            limit = rate(name)
            if limit and limit[1] == seconds and n >= limit[0]:
                full.add(key)
    return sorted(full)


def _started(since):
    """Rows claimed since ``since`` and not given back (given back: queued again, untried)."""
    return TaskRow.objects.filter(claimed_at__gte=since).exclude(status=TaskRow.Status.QUEUED)


def over(rows):
    """Of freshly claimed ``rows``, those over their key's cap or rate; and seconds until a rate has room (or None)."""
    global _seen_until
    keyed = [row for row in rows if row.group]
    if not keyed:
        return [], None
    _seen_until = time.monotonic() + 60
    out, wait = set(), None
    now = timezone.now()
    for key in {row.group for row in keyed}:
        mine = [row for row in keyed if row.group == key]
        keep = set(
            TaskRow.objects.filter(status=TaskRow.Status.RUNNING, group=key)
            .order_by("claimed_at", "id")
            .values_list("id", flat=True)[: cap(mine[0].name, key)]
        )
        out |= {row.pk for row in mine if row.pk not in keep}
        limit = rate(mine[0].name)
        if limit:
            starts, seconds = limit
            _periods_seen.add(seconds)
            # Counted from the earliest of these claims: every window of ``seconds`` keeps at most ``starts``.
            since = min(row.claimed_at for row in mine) - timedelta(seconds=seconds)
            first = list(_started(since).filter(group=key).order_by("claimed_at", "id").values_list("id", "claimed_at"))
            allowed = {pk for pk, _ in first[:starts]}
            late = {row.pk for row in mine if row.pk not in allowed}
            if late:
                out |= late
                opens = (first[0][1] + timedelta(seconds=seconds) - now).total_seconds() if first else 0
                wait = max(min(wait or opens, opens), 0.05)
    return [row for row in rows if row.pk in out], wait
