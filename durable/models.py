"""Durable task rows, the single source of truth for a task whatever the queue carries; the app's other rows are
imported here from modules named for them (``flow_models``, ``stops``, ``slots``, ``tally``)."""

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from durable import sql
from durable.exceptions import ConsumerLost
from durable.flow_models import Flow, flow_member_ended, on_flow_member_ended  # noqa: F401 - the app's models
from durable.leased import Leased, States  # noqa: F401 - Leased: the apps' leased rows import it here
from durable.leases import Leases
from durable.slots import Periodic  # noqa: F401
from durable.stops import CancelRequest, PausedQueue, claimable, unpaused  # noqa: F401
from durable.tally import Tally  # noqa: F401


class Task(Leased):
    """One enqueued task: what to call with what, where it stands, and its result."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCESSFUL = "successful"
        FAILED = "failed"
        CANCELLED = "cancelled"
        WAITING = "waiting", "waiting (a later step of a chain)"

    STATES = States(queued=Status.QUEUED, running=Status.RUNNING, failed=Status.FAILED)
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    name = models.CharField(max_length=255, help_text="Dotted path of the task (module.function).")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    priority = models.SmallIntegerField(default=0, help_text="-100 to 100; higher runs first.")
    queue_name = models.CharField(max_length=64, default="default")
    backend = models.CharField(max_length=64, default="default", help_text="The TASKS alias it was enqueued on.")
    max_attempts = models.PositiveSmallIntegerField(default=3)
    unique_key = models.CharField(
        max_length=255, blank=True, help_text="At most one queued or running task per key (empty: no key)."
    )
    group = models.CharField(
        max_length=64, blank=True, help_text="Concurrency group: at most DURABLE_GROUP_LIMITS[group] run at once."
    )

    flow = models.ForeignKey(
        "Flow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        db_index=False,  # durable_flow_status serves it
        help_text="Its chain or batch.",
    )

    return_value = models.JSONField(null=True, blank=True)
    traceback = models.TextField(blank=True, help_text="Of the last error.")
    worker_ids = models.JSONField(default=list, blank=True, help_text="host:pid of each attempt, in order.")

    enqueued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the first attempt started.")
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The claim's "due rows in order", and every lookup by status (held rows are few). One index:
            # each is written at every claim and outcome. Not partial: SQLite cannot use a partial index
            # for a condition with a bound parameter (status = %s), and the ORM always binds one.
            models.Index(fields=["status", "-priority", "due_at", "id"], name="durable_due"),
            # Starts per group key in a rate's period (durable.limits, issue 17).
            models.Index(fields=["group", "claimed_at"], name="durable_group_claimed"),
            # A flow's tasks, and "any left?" at each member's end (durable.flows, issue 17).
            models.Index(fields=["flow", "status"], name="durable_flow_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["unique_key"],
                condition=Q(status__in=["queued", "running"]) & ~Q(unique_key=""),
                name="durable_unique_active",
            ),
        ]

    def __str__(self):
        return f"task {self.pk} {self.name} ({self.status})"

    @property
    def short_name(self):
        return self.name.rsplit(".", 1)[-1]

    # --- an attempt's outcome: each a fenced write on the row (``LEASES``) plus its ``TaskAttempt``, together ---

    def mark_succeeded(self, value):
        """Record this attempt's return ``value``: True if written, False if the lease was lost (newer outcome stands)."""
        return self.record(TaskAttempt.Outcome.SUCCESSFUL, status=self.Status.SUCCESSFUL, return_value=value)

    def mark_retry(self, error, trace, due):
        """Record this attempt's ``error`` and queue the task again, due at ``due``."""
        return self.record(TaskAttempt.Outcome.RETRY, error, trace, status=self.Status.QUEUED, due_at=due)

    def mark_failed(self, error, trace=""):
        """Record this attempt's ``error`` as the task's last: it ends failed."""
        return self.record(TaskAttempt.Outcome.FAILED, error, trace, status=self.Status.FAILED)

    def mark_snoozed(self, snooze, due):
        """Record a ``durable.Snooze``: queued again, due at ``due``, this attempt uncounted and no error."""
        uncounted = {"attempts": F("attempts") - 1, "worker_ids": self.worker_ids[:-1]}  # context.attempt as it was
        return self.record(TaskAttempt.Outcome.SNOOZED, snooze, status=self.Status.QUEUED, due_at=due, **uncounted)

    def mark_cancelled(self, error, trace):
        """Record this attempt stopped by ``durable.cancel``: the task ends cancelled, its request is spent."""
        return self.record(TaskAttempt.Outcome.CANCELLED, error, trace, status=self.Status.CANCELLED)

    def record(self, outcome, error=None, trace="", **values):
        """The one place an attempt's outcome is written: the row (fenced on its lease) and its attempt row.

        ``values`` are the row's new status and what goes with it; a final status also sets ``finished_at``.
        """
        now = timezone.now()
        text = error_text(error)
        values = {"worker_ids": self.worker_ids, "last_attempted_at": self.last_attempted_at, **values}
        if outcome != TaskAttempt.Outcome.SNOOZED and (text or self.last_error):
            values.update(last_error=text[:2000], traceback=trace)
        if values["status"] != self.Status.QUEUED:
            values["finished_at"] = now
        with sql.serialized(Task), transaction.atomic():
            written = LEASES.finish(self, **values)
            if written:
                attempt = TaskAttempt.of(self, outcome, error, finished_at=now)
                attempt.traceback = trace
                sql.insert(attempt, ATTEMPT_FIELDS)
                if self.flow_id:  # a chain's hand-over or a batch's callbacks commit with this outcome (issue 17)
                    flow_member_ended(self, values["status"], values.get("return_value"))
                if values["status"] == self.Status.CANCELLED:  # its request is spent, in the same commit
                    CancelRequest.objects.filter(task_id=self.pk).delete()
        return written

    @classmethod
    def record_succeeded(cls, done):
        """Record many attempts that succeeded, ``[(row, value, ended_at)]``, in one transaction (fenced row by row).

        What a worker ran of a claimed batch of short tasks: one commit for them all, not one each. Returns
        the attempt rows written (a row whose lease was lost is left alone: the newer outcome stands).
        """
        outcomes = []
        for row, value, ended in done:
            values = {"status": cls.Status.SUCCESSFUL, "return_value": value, "worker_ids": row.worker_ids}
            values.update(last_attempted_at=row.last_attempted_at, finished_at=ended, last_error="", traceback="")
            outcomes.append((row, values))
        ended, returned = {row.pk: at for row, _, at in done}, {row.pk: value for row, value, _ in done}
        with sql.serialized(Task), transaction.atomic():
            memo = {}  # the times the row and its attempt share, prepared once
            written = LEASES.finish_each(outcomes, memo)
            attempts = [TaskAttempt.of(row, TaskAttempt.Outcome.SUCCESSFUL, None, ended[row.pk]) for row in written]
            sql.insert_many(attempts, ATTEMPT_FIELDS, memo)
            # Their flows move on with these outcomes (issue 17), once per flow: all its members here are written,
            # so the last one's end sees the others' (a chain has one step queued at a time).
            for row in {row.flow_id: row for row in written if row.flow_id}.values():
                flow_member_ended(row, cls.Status.SUCCESSFUL, returned[row.pk])
        return attempts

    @classmethod
    def cancel(cls, ids):
        """Cancel ``ids`` that are still queued (a running task cannot be stopped from here). Returns how many."""
        return cls.objects.filter(pk__in=ids, status=cls.Status.QUEUED).update(
            status=cls.Status.CANCELLED, finished_at=timezone.now()
        )


class TaskAttempt(models.Model):
    """One run of a task: when, where, and how it ended (with the error and traceback if it failed)."""

    class Outcome(models.TextChoices):
        SUCCESSFUL = "successful"
        RETRY = "retry"
        FAILED = "failed"
        LOST = "lost", "lost (its consumer died)"
        SNOOZED = "snoozed", "snoozed (durable.Snooze: not counted)"
        CANCELLED = "cancelled"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    worker_id = models.CharField(max_length=128)
    outcome = models.CharField(max_length=16, choices=Outcome)
    error_class = models.CharField(max_length=255, blank=True, help_text="Dotted path of the exception class.")
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["task", "number", "id"]

    def __str__(self):
        return f"task {self.task_id} attempt {self.number}: {self.outcome}"

    @classmethod
    def of(cls, row, outcome, error, finished_at):
        """The attempt ``row`` (a task row as its holder has it) just ended with."""
        return cls(
            task_id=row.pk,
            number=row.attempts,
            started_at=row.last_attempted_at or finished_at,
            finished_at=finished_at,
            worker_id=row.claimed_by,
            outcome=outcome,
            error_class="" if error is None or outcome == cls.Outcome.SNOOZED else _path(type(error)),
            error=error_text(error)[:2000],
        )


ATTEMPT_FIELDS = (
    "task",
    "number",
    "started_at",
    "finished_at",
    "worker_id",
    "outcome",
    "error_class",
    "error",
    "traceback",
)


def _path(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def error_text(error):
    """``Class: message`` of an exception (its class alone without a message); "" for none."""
    if error is None:
        return ""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class TaskLeases(Leases):
    """Leases on task rows. A worker runs its batch in claim order, so of the rows a dead holder
    still held under one lease token, the first was running (its attempt is lost, and recorded)
    and the others never started (their attempt is uncounted): no write is needed per task start.
    """

    def __init__(self):
        super().__init__(
            Task, Task.STATES, seconds=lambda: settings.DURABLE_LEASE_SECONDS, max_attempts=F("max_attempts")
        )
        self.order_by = ("-priority", "due_at", "id")

    def due(self, seconds=0, now=None):
        """The due rows, less those of paused queues: they wait on purpose (``durable.pause``)."""
        return unpaused(super().due(seconds, now))

    def claim_values(self, now):
        return {"started_at": Coalesce("started_at", Value(now)), "last_attempted_at": now}

    def release_values(self):
        # Untried: a row never run before has not started (expressions see the row before the release).
        return {"started_at": Case(When(attempts__lte=1, then=Value(None)), default=F("started_at"))}

    def take_back(self, queryset, why):
        rows = list(queryset.order_by(*self.order_by))
        seen = set()
        for row in rows:  # the first of each batch still held was the one running
            row.was_running = row.lease_token not in seen
            seen.add(row.lease_token)
        with sql.serialized(Task), transaction.atomic():  # the outcome and its attempt row, together
            taken = super().take_back(rows, why)
            now = timezone.now()
            lost = [TaskAttempt.of(row, self._outcome(row), ConsumerLost(), now) for row in taken if row.was_running]
            for attempt in lost:
                attempt.error = why
            TaskAttempt.objects.bulk_create(lost)
        return taken

    def _outcome(self, row):
        return TaskAttempt.Outcome.FAILED if self.used_up(row) else TaskAttempt.Outcome.LOST

    def used_up(self, row):
        return row.was_running and row.attempts >= row.max_attempts

    def lost(self, row, why, used_up, now):
        if not row.was_running:
            return {"status": Task.Status.QUEUED, "attempts": F("attempts") - 1, **self.release_values()}
        error = f"attempt {row.attempts} lost: {why} (held by {row.claimed_by})"
        values = {"worker_ids": [*row.worker_ids, row.claimed_by], "traceback": ""}
        if used_up:
            last = f"{error}; gave up after {row.attempts} attempts"
            return {**values, "status": Task.Status.FAILED, "finished_at": now, "last_error": last}
        return {**values, "status": Task.Status.QUEUED, "last_error": error}  # due as it was: it goes first


LEASES = TaskLeases()
