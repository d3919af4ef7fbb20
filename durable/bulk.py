"""Cancel and retry one task or every task matching an operator's filter (issue 17).

``durable.retry(result_id)`` queues a failed or cancelled task again for a new cycle of attempts. The admin's
actions and the operations page's buttons all call ``cancel_matching`` / ``retry_matching``, for one task (a
queryset of one) and for "all matching this filter" alike: one code path.

A filter's rows are walked by primary key in chunks of ``CHUNK`` ids (keyset, never all in memory), each chunk one
transaction with one UPDATE per state, not a statement per row. Cancel is ``durable.control.cancel_ids``, the
one ``durable.cancel`` calls too: a queued (or waiting) task ends cancelled at once; a running one gets a
``CancelRequest`` row and its consumer stops it within a second or two. A chain or batch whose member was cancelled
while queued moves on at once (``durable.flows``), as when a member ends in a worker.

Retry skips, and counts as "could not": tasks not failed or cancelled, a chain's steps (a step's input is the
step before it: the chain would not go on), and a task whose unique key a queued or running task holds now.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from durable import control
from durable.claim import wake
from durable.compat import TaskResultDoesNotExist
from durable.models import CancelRequest, Flow, Task

logger = logging.getLogger(__name__)

CHUNK = 1000  # ids per transaction: one UPDATE each, bounded memory and lock time
S = Task.Status
RETRYABLE = (S.FAILED, S.CANCELLED)


@dataclass
class Outcome:
    """What a cancel or retry did: ``done`` tasks, ``stopping`` running ones asked to stop, ``skipped`` the rest."""

    action: str  # "cancel" or "retry"
    done: int = 0
    stopping: int = 0
    skipped: int = 0

    def message(self):
        """One line for the operator: how many were cancelled or retried and how many could not be."""
        if self.action == "cancel":
            text = f"{self.done + self.stopping:,} task(s) cancelled"
            if self.stopping:
                text += f" ({self.stopping:,} running: their consumers stop them within seconds)"
            why = "already finished"
        else:
            text = f"{self.done:,} task(s) queued again"
            why = "not failed or cancelled, a chain's step, or their unique key is taken"
        if self.skipped:
            text += f"; {self.skipped:,} could not be ({why})"
        return text + "."


def chunks(queryset, size=CHUNK):
    """The ids of ``queryset`` in ascending chunks of ``size``: one short query each, whatever the total."""
    ids = queryset.order_by("pk").values_list("pk", flat=True)
    last = 0
    while chunk := list(ids.filter(pk__gt=last)[:size]):
        yield chunk
        last = chunk[-1]


def cancel_matching(queryset, size=CHUNK):
    """Cancel every task of ``queryset``: queued ones at once, running ones through their consumer."""
    outcome = Outcome("cancel")
    for ids in chunks(queryset, size):
        done, running = control.cancel_ids(ids)
        outcome.done += done
        outcome.stopping += len(running)
        outcome.skipped += len(ids) - done - len(running)
    _log(outcome)
    return outcome


def retry_matching(queryset, size=CHUNK):
    """Queue every failed or cancelled task of ``queryset`` again, due now, with its attempts anew."""
    outcome = Outcome("retry")
    for ids in chunks(queryset, size):
        with transaction.atomic():
            rows = Task.objects.filter(pk__in=ids, status__in=RETRYABLE).exclude(flow__kind=Flow.Kind.CHAIN)
            CancelRequest.objects.filter(task__in=rows).delete()  # spent; a left one would cancel the new cycle
            done = rows.filter(unique_key="").update(**_fresh())
            for pk in rows.exclude(unique_key="").values_list("pk", flat=True):
                done += _retry_keyed(pk)
        outcome.done += done
        outcome.skipped += len(ids) - done
    if outcome.done:
        transaction.on_commit(wake)  # one wake-up, after the caller's transaction if there is one
    _log(outcome)
    return outcome


def _fresh():
    return {"status": S.QUEUED, "due_at": timezone.now(), "attempts": 0, "finished_at": None}


def _retry_keyed(pk):
    """One keyed task in its own savepoint: its unique key may be held by a queued or running task now."""
    try:
        with transaction.atomic():
            return Task.objects.filter(pk=pk, status__in=RETRYABLE).update(**_fresh())
    except IntegrityError:
        return 0


def retry(result_id):
    """Queue the failed or cancelled task ``result_id`` again (a new cycle of attempts, due now).

    True if queued again; False if it cannot be (not failed or cancelled, a chain's step, its unique key taken).
    ``TaskResultDoesNotExist`` for an id that names no task.
    """
    return retry_matching(one(result_id)).done == 1


def one(result_id):
    """The queryset of the one task ``result_id``; ``TaskResultDoesNotExist`` when there is none."""
    rows = Task.objects.filter(pk=control.task_pk(result_id))
    if not rows.exists():
        raise TaskResultDoesNotExist(f"no task with id {result_id!r}")
    return rows


def _log(outcome):
    logger.warning(
        "tasks %s: %s done, %s running asked to stop, %s skipped",
        outcome.action,
        outcome.done,
        outcome.stopping,
        outcome.skipped,
    )
