"""Per-key limits, across all consumers: a running cap per group key, and a start rate per key.

::

    @options(group=lambda customer_id, **kw: f"customer:{customer_id}", concurrency=1, rate="10/s")
    @task()
    def sync_customer(customer_id): ...

A task's key is its ``group`` (a name, or a callable of its arguments, run at enqueue) and is stored on its
row. Both limits are checked in the claim's transaction, one claim of a key at a time, against the rows
themselves, so they hold whatever the consumers, hosts, queue storage or database: a claimed row keeps its
place while the key's other running rows leave room under ``concurrency``, and while the rows claimed within
the rate's period (not given back) leave room under N. The others go back to the queue untried, and a
wake-up is scheduled for when the rate's window has
room, so a task over its key's cap or rate waits as a queued row, never holding a worker. While grouped
tasks were claimed in the last minute, claims also leave out the keys that are full (no row claimed and given
back over and over); otherwise that query is skipped.

``concurrency`` without a value falls back to ``DURABLE_GROUP_LIMITS[group]`` (default 1), as before.

Two more, on the same rows: ``rate_key`` (a callable of the group key giving a prefix of it) makes the rate
count every key with that prefix, so one task can run one at a time per endpoint (its key) and N a second per
host (the prefix). ``ordered=True`` makes a key's tasks start in the order they were enqueued: the claim leaves
out a row while an earlier row of its key is queued or running, so a task waiting for its retry holds the later
ones back (webhook deliveries in order per endpoint).
"""

import functools
import threading
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connections, router
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from durable.compat import Task
from durable.models import Task as TaskRow
from durable.options import DEFAULT, ORDERED, options_of, parse_rate

_seen_until = 0.0  # while grouped tasks are around, claims leave out the keys that are full
_periods_seen = set()  # the rate periods of tasks this process claimed
_reopen = threading.local()  # .seconds: when the first rate scope this thread's claim left out has room again


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


def scope(name, key):
    """``(scope, is_prefix)``: what the rate of a task named ``name`` with group key ``key`` counts."""
    opts = _options(name)
    return (opts.rate_scope(key), True) if opts.rate_key is not None else (key, False)


def _in_scope(where):
    scope_, is_prefix = where
    return Q(group__startswith=scope_) if is_prefix else Q(group=scope_)


def narrow(queryset, seen_shape=None):
    """The claim's filter: a row of an ordered task waits for the earlier rows of its key; and while grouped tasks
    were claimed lately, keys at their cap or rate (or in a rate scope at its rate) are left out.

    ``seen_shape``: what ``shape()`` gave the caller; if not None, the filter is that shape's (``in_order`` alone)
    whatever happened since, so a statement kept under it (``durable.sql.statement``) matches the filter."""
    queryset = in_order(queryset)
    if seen_shape is not None or shape() is not None:
        return queryset
    full, _reopen.seconds = _full_keys(timezone.now())
    for where in full:
        queryset = queryset.exclude(_in_scope(where))
    return queryset


def shape():
    """A key for what ``narrow`` does now, while it is ``in_order`` alone (the same filter at every claim, so a
    claim's statement can be made once: ``durable.sql.statement``); None while it leaves full keys out."""
    return ("in_order", *sorted(ORDERED)) if time.monotonic() >= _seen_until else None


def in_order(queryset):
    """``queryset`` without the rows of ordered tasks that have an earlier row of their key queued or running."""
    if not ORDERED:
        return queryset
    earlier = _unfinished().filter(group=OuterRef("group"), pk__lt=OuterRef("pk"))
    return queryset.exclude(Q(name__in=ORDERED) & Exists(earlier))


def _unfinished():
    return TaskRow.objects.filter(status__in=(TaskRow.Status.QUEUED, TaskRow.Status.RUNNING))


def _full_keys(now):
    counts, caps = defaultdict(int), {}
    running = TaskRow.objects.filter(status=TaskRow.Status.RUNNING).exclude(group="")
    for key, name, n in running.values_list("group", "name").annotate(n=Count("id")).order_by():
        counts[key] += n
        caps[key] = min(caps.get(key, n + 1), cap(name, key))
    full = {(key, False) for key, n in counts.items() if n >= caps[key]}
    reopen = None
    for seconds in sorted(_periods_seen):
        recent = (
            _started(now - timedelta(seconds=seconds))
            .exclude(group="")
            .values_list("group", "name")
            .annotate(n=Count("id"), first=Min("claimed_at"))
        )
        started, first = defaultdict(int), {}
        for key, name, n, at in recent.order_by():
            limit = rate(name)
            if limit and limit[1] == seconds:
                where = (scope(name, key), limit[0])
                started[where] += n
                first[where] = min(first.get(where, at), at)
        for where, n in started.items():
            if n >= where[1]:
                full.add(where[0])
                opens = (first[where] + timedelta(seconds=seconds) - now).total_seconds()
                reopen = max(min(reopen or opens, opens), 0.05)
    return sorted(full), reopen


def _started(since):
    """Rows claimed since ``since`` and not given back (given back: queued again, untried)."""
    return TaskRow.objects.filter(claimed_at__gte=since).exclude(status=TaskRow.Status.QUEUED)


def over(rows):
    """Of freshly claimed ``rows``, those over their key's cap or rate; and seconds until a rate has room (or None):
    of those given back, or of the keys the claim left out (a wake-up is due then, or they would wait for the sweep).
    """
    left_out, _reopen.seconds = getattr(_reopen, "seconds", None), None
    out, wait = _over([row for row in rows if row.group])
    waits = [w for w in (wait, left_out) if w is not None]
    return [row for row in rows if row.pk in out], min(waits) if waits else None


def _over(keyed):
    """Runs in the claim's transaction (``durable.claim``): the rows other claims committed count first, and
    claims of one key check one at a time (SQLite: the claim holds the write lock; PostgreSQL: a lock per key and
    rate scope, ``_serialize``), so two consumers claiming at once never both keep a row over the limit."""
    global _seen_until
    if not keyed:
        return set(), None
    _seen_until = time.monotonic() + 60
    scopes = defaultdict(list)  # (scope, is_prefix) -> the rows a rate counts there
    for row in keyed:
        if rate(row.name):
            scopes[scope(row.name, row.group)].append(row)
    _serialize({row.group for row in keyed} | {where[0] for where in scopes})
    out, wait = set(), None
    now = timezone.now()
    for key in {row.group for row in keyed}:
        mine = sorted((row for row in keyed if row.group == key), key=lambda row: (row.claimed_at, row.pk))
        others = TaskRow.objects.filter(status=TaskRow.Status.RUNNING, group=key).exclude(pk__in=[r.pk for r in mine])
        room = max(cap(mine[0].name, key) - others.count(), 0)
        out |= {row.pk for row in mine[room:]}
        if _options(mine[0].name).ordered:
            # Checked on the committed rows too: a consumer that had not imported the task yet claimed without
            # ``in_order``. An earlier row unfinished stays so until it ends: this check cannot race.
            head = _unfinished().filter(group=key).order_by("id").values_list("id", flat=True).first()
            out |= {row.pk for row in mine if row.pk != head}
    for where, mine in scopes.items():
        starts, seconds = rate(mine[0].name)
        _periods_seen.add(seconds)
        mine = sorted((row for row in mine if row.pk not in out), key=lambda row: (row.claimed_at, row.pk))
        # Counted from the earliest of these claims: every window of ``seconds`` keeps at most ``starts``.
        since = min((row.claimed_at for row in mine), default=now) - timedelta(seconds=seconds)
        others = _started(since).filter(_in_scope(where)).exclude(pk__in=[r.pk for r in keyed])
        first = others.order_by("claimed_at").values_list("claimed_at", flat=True).first()
        late = {row.pk for row in mine[max(starts - others.count(), 0) :]}
        if late:
            out |= late
            start = min(first, mine[0].claimed_at) if first else mine[0].claimed_at
            opens = (start + timedelta(seconds=seconds) - now).total_seconds()
            wait = max(min(wait or opens, opens), 0.05)
    return out, wait


def _serialize(names):
    """On PostgreSQL, a transaction lock per key and rate scope, taken in order (no deadlock): the next claim of
    the same key waits for this one to commit, then sees its rows. SQLite's claim already holds the write lock."""
    conn = connections[router.db_for_write(TaskRow)]
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        for name in sorted(names):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"durable.limits:{name}"])
