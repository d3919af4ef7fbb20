"""Chains and batches: every step a row, every hand-over and callback in the transaction of the outcome that causes it.

::

    flow = chain(call(fetch_rates, "EUR"), call(build_report, fmt="xlsx")).enqueue()
    with batch(on_success=call(album_ready, album_id), on_finish=call(album_done, album_id)) as b:
        for photo_id in photo_ids:
            make_sizes.enqueue(photo_id)

A chain is a ``Flow`` row and one task row per step, all written in the caller's transaction: the first
step queued, the others ``waiting`` (never claimed). When a step succeeds, the consumer that records its
outcome releases the next step (queued, with the return value put first in its arguments) in the same
transaction: a kill -9 before that commit loses both (the step runs again), after it neither. A step that
fails for good (or is cancelled) cancels the steps after it and fails the chain.

A batch is a ``Flow`` row its members point to (tasks enqueued in the ``with`` block, chains too). The
outcome that ends its last member takes the batch's ``finished_at`` with a conditional UPDATE, after locking
the batch row (PostgreSQL; SQLite's single writer serializes the same), and enqueues the callbacks in that
same transaction: two consumers ending the last two members at once still call back once.

Outcomes recorded elsewhere (a task given up after its consumer died, a queued step cancelled) are
settled by the sweep (``settle``), within a minute.
"""

import functools
import logging

from django.db import connections, router, transaction
from django.db.models import Count
from django.utils import timezone

from durable import lifeline
from durable.backend import json_arguments, task_of, wake_on_commit
from durable.calls import Call, check_call
from durable.compat import InvalidTask
from durable.flow_results import ENDED, get_flow
from durable.joining import current_batch_id, open_batch
from durable.models import Flow, on_flow_member_ended
from durable.models import Task as TaskRow

logger = logging.getLogger(__name__)

LEFT = (TaskRow.Status.QUEUED, TaskRow.Status.RUNNING)  # a batch's direct members not ended yet


# --- declaring --------------------------------------------------------------------------------


class chain:  # noqa: N801 - the name is the API (issue 17)
    """Steps run one after another; each gets the previous step's return value as its first argument."""

    def __init__(self, *calls):
        if not calls:
            raise InvalidTask("a chain needs at least one call(...)")
        self.calls = [check_call(c, "chain") for c in calls]

    def enqueue(self):
        """Write the chain (its flow and every step) in the caller's transaction; return ``get_flow`` of it."""
        rows = [  # all checked first; a step after the first gets the previous step's return value first
            c.task.get_backend().row_for(c.task, c.args, c.kwargs, leading=int(i > 0)) for i, c in enumerate(self.calls)
        ]
        for c, row in zip(self.calls, rows, strict=True):
            if row.unique_key:
                raise InvalidTask(f"{c.task.module_path}: a chain step cannot have a unique_key")
        db = router.db_for_write(TaskRow)
        with transaction.atomic(using=db):
            flow = Flow.objects.using(db).create(kind=Flow.Kind.CHAIN, parent_id=current_batch_id())
            for i, row in enumerate(rows):
                row.flow = flow
                row.status = TaskRow.Status.WAITING if i else TaskRow.Status.QUEUED
                row.save(using=db, force_insert=True)
            wake_on_commit(db)
        logger.info("chain %s enqueued: %s steps, first task %s", flow.pk, len(rows), rows[0].pk)
        return get_flow(flow.pk)


class batch:  # noqa: N801 - the name is the API (issue 17)
    """``with batch(on_success=call(...), on_failure=call(...), on_finish=call(...)) as b:`` every ``enqueue()``
    in the block (chains too) joins the batch; its rows commit together when the block ends."""

    def __init__(self, on_success=None, on_failure=None, on_finish=None):
        given = {"on_success": on_success, "on_failure": on_failure, "on_finish": on_finish}
        self.callbacks = {name: _stored(name, c) for name, c in given.items() if c is not None}
        self.id = None

    def __enter__(self):
        if current_batch_id() is not None:
            raise InvalidTask("batches do not nest: put chains in a batch, not batches")
        db = router.db_for_write(TaskRow)
        self._atomic = transaction.atomic(using=db)
        self._atomic.__enter__()
        try:
            flow = Flow.objects.using(db).create(kind=Flow.Kind.BATCH, callbacks=self.callbacks)
        except BaseException:
            self._atomic.__exit__(*_exc_info())
            raise
        self.id = str(flow.pk)
        open_batch(flow.pk)
        return self

    def __exit__(self, exc_type, exc, tb):
        open_batch(None)
        if exc_type is None:
            try:
                _settle_batch(Flow.objects.select_for_update().get(pk=self.id))  # an empty batch calls back now
            except BaseException:
                self._atomic.__exit__(*_exc_info())
                raise
            logger.info("batch %s enqueued", self.id)
        return self._atomic.__exit__(exc_type, exc, tb)


def _exc_info():
    import sys

    return sys.exc_info()


def _stored(name, c):
    """A callback ``call(...)`` as the batch row keeps it; ``InvalidTask`` when it is not one."""
    if not isinstance(c, Call):
        raise InvalidTask(f"{name} must be call(task, *args, **kwargs), not {c!r}")
    if "batch_id" in c.kwargs:
        raise InvalidTask(f"{name}: batch_id is added by the batch; do not pass it")
    c.task.get_backend().validate_task(c.task)
    args, kwargs = json_arguments(c.task, c.args, c.kwargs)
    return {
        "name": c.task.module_path,
        "args": args,
        "kwargs": kwargs,
        "queue_name": c.task.queue_name,
        "priority": c.task.priority,
    }


# --- the consumer side: hand-over and callbacks ---------------------------------------------------


def finished(row, status, value=None):
    """Hook (``durable.models.flow_member_ended``, in the transaction that records ``row``'s outcome): a flow member ended.

    ``status``: the task's new status (successful, failed, cancelled). Releases a chain's next step, or ends
    the chain and settles its batch; a batch member settles its batch.
    """
    if not row.flow_id or status not in ENDED:
        return
    conn = connections[router.db_for_write(Flow)]
    with conn.cursor() as cursor:
        # The flow's kind, and on PostgreSQL a lock on its row: the finishers of one batch one at a time, so the
        # last sees every other's end. SQLite needs no lock: its one writer is this transaction, which wrote the
        # member's outcome first. Hand-written: the ORM's statements cost several times the lookups.
        cursor.execute(_sql(conn, KIND if conn.vendor == "sqlite" else KIND + " FOR UPDATE"), [row.flow_id])
        found = cursor.fetchone()
        if found is None:
            return  # the flow was deleted (retention) under a task that outlived it
        kind = found[0]
        if kind == Flow.Kind.BATCH:
            cursor.execute(_sql(conn, MEMBER_LEFT), [row.flow_id, *LEFT])
            if cursor.fetchone():
                return  # members are left: one index lookup
    flow = Flow.objects.get(pk=row.flow_id)
    if kind == Flow.Kind.CHAIN:
        _chain_step(flow, row, status, value)
    else:
        _settle_batch(flow)


on_flow_member_ended(finished)


KIND = "SELECT {kind} FROM {flow} WHERE {id} = %s"
MEMBER_LEFT = "SELECT 1 FROM {task} WHERE {task_flow} = %s AND {status} IN (%s, %s) LIMIT 1"


@functools.cache
def _sql(conn, template):
    quote = conn.ops.quote_name
    return template.format(
        id=quote("id"),
        kind=quote("kind"),
        flow=quote(Flow._meta.db_table),
        task=quote(TaskRow._meta.db_table),
        task_flow=quote(TaskRow._meta.get_field("flow").column),
        status=quote("status"),
    )


def _chain_step(flow, row, status, value):
    nxt = TaskRow.objects.filter(flow=flow, pk__gt=row.pk).order_by("id").first()
    now = timezone.now()
    if status == TaskRow.Status.SUCCESSFUL and nxt is not None and nxt.status == TaskRow.Status.WAITING:
        TaskRow.objects.filter(pk=nxt.pk, status=TaskRow.Status.WAITING).update(
            status=TaskRow.Status.QUEUED, args=[value, *nxt.args], due_at=now
        )
        wake_on_commit(router.db_for_write(TaskRow))
        logger.info("chain %s: task %s succeeded, task %s released", flow.pk, row.pk, nxt.pk)
        return
    if status == TaskRow.Status.SUCCESSFUL and nxt is None:
        _finish(flow, "successful")
        return
    cancelled = TaskRow.objects.filter(flow=flow, status=TaskRow.Status.WAITING).update(
        status=TaskRow.Status.CANCELLED, finished_at=now, last_error=f"chain {flow.pk}: task {row.pk} {status}"
    )
    logger.warning("chain %s failed at task %s (%s); %s later steps cancelled", flow.pk, row.pk, status, cancelled)
    _finish(flow, "failed")


def _finish(flow, status):
    """End ``flow`` once (a conditional UPDATE); a chain in a batch then settles the batch."""
    if not Flow.objects.filter(pk=flow.pk, finished_at__isnull=True).update(status=status, finished_at=timezone.now()):
        return False
    logger.info("%s %s %s", flow.kind, flow.pk, status)
    if flow.parent_id:
        _settle_batch(Flow.objects.select_for_update().get(pk=flow.parent_id))
    return True


def _settle_batch(flow):
    """If every member of the batch has ended: end it, and enqueue its callbacks (once: ``_finish``'s UPDATE)."""
    if flow.finished_at is not None:
        return
    # Two index lookups (durable_flow_status) while members are left: a member's end costs the same in a batch
    # of 10 or of 10,000. The counts only once all have ended.
    if (
        TaskRow.objects.filter(flow=flow, status__in=LEFT).exists()
        or Flow.objects.filter(parent=flow, finished_at__isnull=True).exists()
    ):
        return
    tasks = dict(TaskRow.objects.filter(flow=flow).values_list("status").annotate(n=Count("id")).order_by())
    chains = dict(Flow.objects.filter(parent=flow).values_list("status").annotate(n=Count("id")).order_by())
    failed = tasks.get(TaskRow.Status.FAILED, 0) + tasks.get(TaskRow.Status.CANCELLED, 0) + chains.get("failed", 0)
    if not _finish(flow, "failed" if failed else "successful"):
        return
    for name in ("on_failure" if failed else "on_success", "on_finish"):
        stored = flow.callbacks.get(name)
        if stored:
            task = task_of(stored["name"]).using(queue_name=stored["queue_name"], priority=stored["priority"])
            result = task.enqueue(*stored["args"], **stored["kwargs"], batch_id=str(flow.pk))
            logger.info("batch %s: %s enqueued as task %s", flow.pk, name, result.id)


def settle():
    """Every sweep: end the flows whose members ended outside ``finished`` (given up after a lost consumer,
    cancelled while queued). Returns how many flows it ended."""
    ended = 0
    for pk in Flow.objects.filter(finished_at__isnull=True).values_list("pk", flat=True):
        with transaction.atomic():
            flow = Flow.objects.select_for_update().get(pk=pk)
            if flow.kind == Flow.Kind.BATCH:
                _settle_batch(flow)
            else:
                bad = TaskRow.objects.filter(flow=flow, status__in=[TaskRow.Status.FAILED, TaskRow.Status.CANCELLED])
                last = bad.order_by("id").first()
                if last is not None:
                    _chain_step(flow, last, last.status, None)
            ended += Flow.objects.filter(pk=pk, finished_at__isnull=False).exists()
    return ended


lifeline.settle_with(settle)  # at each sweep: flows whose members ended outside ``finished``
