"""Claim due outbox rows, send them batch by batch over one connection, until nothing is due.

Huey only carries wake-ups: any delivery task drains whatever is due, so lost
or duplicate tasks cost nothing, and a lost consumer is recovered from the
rows alone (lease expiry, see ``sweep``). A claimed batch is sent and recorded
by ``notifications.batch.Batch``; what the relay's answers mean is
``notifications.replies``; its pace, ``notifications.pacing``.
"""

import logging
import math
from contextlib import nullcontext
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connections, router
from django.utils import timezone

from durable.leases import HOST, worker_id  # noqa: F401 - worker_id: who holds a claimed row
from durable.startup import stopping
from notifications import limits as ratelimits
from notifications.batch import Batch, Outcome
from notifications.models import LEASES, Message
from notifications.recording import locked
from notifications.transport import Transport

logger = logging.getLogger(__name__)


def claim(ids=(), limit=None):
    """Take up to ``limit`` due rows for this worker (``ids`` alone first, if still due; else by priority).

    The claim is the lease mechanism's (``durable.leases``): one conditional UPDATE, committed
    before anything is sent, so two consumers never hold the same row. A read comes first: on
    SQLite an UPDATE that finds nothing still takes the write lock, and most wake-ups of a drain
    find their rows already taken.
    """
    limit = limit or settings.NOTIFICATIONS_BATCH_SIZE
    due = Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=timezone.now())
    mine = list(ids)[:limit]
    if mine and due.filter(id__in=mine).exists():
        rows = LEASES.claim(limit=len(mine), among=mine, shape="named")  # statements made once per count
        if rows:
            return rows
    if not in_claim_order(due).exists():
        return []
    return LEASES.claim(limit=limit, where=_in_claim_order_filter, shape="in claim order")  # statements made once


def in_claim_order(queryset):
    """``queryset`` (queued rows) ordered as the claim takes them, priority then due time, read off ``outbox_due``.

    SQLite, without the statistics ANALYZE would gather (Django never runs it), seeks the partial index
    only when its first column is constrained: with ``priority IN (...)`` it reads outbox_due in order;
    without, it picks outbox_finished and sorts every queued row in a temporary B-tree (the plan before
    priorities did too). PostgreSQL reads outbox_due in order as it is, and would sort with the IN list.
    tests/test_priority.py checks both plans.
    """
    return _in_claim_order_filter(queryset).order_by(*LEASES.order_by)


def _in_claim_order_filter(queryset):
    if connections[router.db_for_read(Message)].vendor == "sqlite":
        queryset = queryset.filter(priority__in=sorted(Message.Priority.values))
    return queryset


LOCKED_PAUSE = 1  # seconds: after SQLite's busy timeout ran out, let the writers through before trying again


def deliver(ids=(), transport_factory=Transport):
    """Send ``ids`` and then anything else due, over one connection, until nothing is due.

    The monitor thread renews the leases it holds (``durable.monitor``), so a run goes on until nothing is due
    and a batch is bounded by its size, not by a lease. While it drains, the
    outbox's draining marker is up (``mysite.wakeups``: commits then skip their wake-up); once it
    is down, one more look for due rows catches what was committed meanwhile. A database that stays
    locked past its busy timeout ends the run, not the task: what was not tried goes back at once
    and the run is scheduled again a second later (``retry_at``). A consumer that stops with rows
    due asks for a wake-up (``more_due``) that another consumer, or this one restarted, answers.
    """
    run = _Run(transport_factory)
    try:
        while True:
            with _draining() as marker:
                idle = run.drain(ids, marker)
            ids = ()
            # The marker is down: a row committed while it was up had its wake-up skipped, so look again.
            if not idle or not _due_now():
                break
    except OperationalError as exc:
        if not locked(exc):
            raise
        # The rows not yet tried went back (Batch.send); the work goes on after a short pause, in a new task.
        logger.warning("outbox: the database stayed locked (%s); delivery goes on in %s s", exc, LOCKED_PAUSE)
        run.outcome.retry_at.append(timezone.now() + timedelta(seconds=LOCKED_PAUSE))
    finally:
        run.close()
    if stopping():
        run.outcome.more_due = True  # wake-ups skipped while this consumer drained now need another consumer
    return run.outcome


class _Run:
    """One delivery run: its outcome, its batch size and its one connection (opened when needed)."""

    def __init__(self, transport_factory):
        self.outcome = Outcome()
        self.stop_at = math.inf  # no deadline: the rows' leases are renewed while held (durable.lifeline)
        self.limit = ratelimits.configured().claim_size(settings.NOTIFICATIONS_BATCH_SIZE)
        self.transport_factory, self.transport = transport_factory, None

    def drain(self, ids, marker):
        """Claim and send batches until nothing is due (True) or the run must end (False)."""
        while not self.outcome.relay_throttled and not stopping():
            batch = claim(ids, limit=self.limit)
            ids = ()
            if not batch:
                return True
            self.transport = self.transport or self.transport_factory()
            sending = Batch(self.transport, batch, self.stop_at, self.outcome)
            sending.tick = marker.refresh
            sending.send()
        return False

    def close(self):
        if self.transport is not None:
            self.transport.close()


def _draining():
    from huey.contrib.djhuey import HUEY

    draining = getattr(HUEY, "draining", None)  # mysite.wakeups; another queue class: no marker
    return draining("outbox") if draining is not None else nullcontext(_NoMarker())


class _NoMarker:
    def refresh(self):
        pass


def _due_now():
    return Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=timezone.now()).exists()
