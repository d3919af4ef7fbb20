"""Durable task rows: the single source of truth for a task, whatever the queue carries."""

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from durable.leases import States


class Leased(models.Model):
    """The fields ``durable.leases.Leases`` needs: where a row stands and who holds it until when.

    A subclass gives ``status`` its choices and names its queued/running/failed values in ``STATES``.
    """

    STATES: States

    status = models.CharField(max_length=16)
    due_at = models.DateTimeField(default=timezone.now, help_text="Not to be tried before this.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    # Set while a consumer holds the row; a lease past its expiry means the holder died or hung.
    lease_token = models.CharField(
        max_length=32, blank=True, help_text="Fencing token: new at every claim; the holder's writes carry it."
    )
    claimed_by = models.CharField(max_length=128, blank=True, help_text="host:pid of the last holder.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


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

    @classmethod
    def retry(cls, ids):
        """Queue ``ids`` (failed or cancelled) again, due now, with their attempts anew. Returns the ids queued.

        One at a time: a task whose unique key another queued or running task holds now stays as it is.
        """
        queued = []
        for pk in cls.objects.filter(pk__in=ids, status__in=[cls.Status.FAILED, cls.Status.CANCELLED]).values_list(
            "pk", flat=True
        ):
            try:
                with transaction.atomic():
                    cls.objects.filter(pk=pk, status__in=[cls.Status.FAILED, cls.Status.CANCELLED]).update(
                        status=cls.Status.QUEUED, due_at=timezone.now(), attempts=0, finished_at=None
                    )
            except IntegrityError:
                continue
            queued.append(pk)
        return queued

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


class Tally(models.Model):
    """Figures of attempt rows the daily cleanup deleted, so ``/metrics`` counters (tally + live rows) never go down."""

    key = models.CharField(max_length=255, primary_key=True)
    value = models.FloatField(default=0)

    def __str__(self):
        return f"{self.key} = {self.value:g}"

    @classmethod
    def add(cls, figures, chunk=200):
        """Add ``figures`` (``{key: number}``) to the tallies; inside the caller's transaction.

        Two statements per ``chunk`` keys (an INSERT of the missing ones, one UPDATE with a CASE), not two per key.
        """
        items = [(key, float(value)) for key, value in figures.items() if value]
        for i in range(0, len(items), chunk):
            part = dict(items[i : i + chunk])
            cls.objects.bulk_create([cls(key=key) for key in part], ignore_conflicts=True)
            increment = models.Case(
                *(models.When(key=key, then=models.Value(value)) for key, value in part.items()),
                default=models.Value(0.0),
                output_field=models.FloatField(),
            )
            cls.objects.filter(key__in=list(part)).update(value=models.F("value") + increment)


class Periodic(models.Model):
    """The last slot of a periodic task that was taken: one row per task, claimed by a conditional UPDATE.

    A consumer enqueues a slot's run only if its UPDATE (``last_slot < slot``) matched the row, so
    however many consumers tick, each slot runs once, and a restart sees what was already done.
    """

    name = models.CharField(max_length=255, primary_key=True, help_text="Dotted path of the periodic task.")
    last_slot = models.DateTimeField(help_text="The latest scheduled minute taken (run, or skipped as missed).")
    last_task_id = models.BigIntegerField(null=True, blank=True, help_text="The task row enqueued for it, if any.")
    updated_at = models.DateTimeField(default=timezone.now)
    # Every consumer that has the declaration loaded stamps this at each tick: a row no tick stamps is a
    # declaration no running consumer knows (``durable.periodic.unloaded``).
    seen_at = models.DateTimeField(null=True, blank=True, help_text="Last tick of a consumer that declares it.")

    class Meta:
        verbose_name = "periodic task"

    def __str__(self):
        return f"periodic {self.name} (last slot {self.last_slot:%Y-%m-%d %H:%M})"


class PausedQueue(models.Model):
    """A queue (of DURABLE_QUEUES) an operator paused (``durable.pause``): its tasks are enqueued but no consumer
    claims them until it is resumed, which deletes the row. Running tasks finish."""

    name = models.CharField(max_length=64, primary_key=True, help_text="The queue's name, from DURABLE_QUEUES.")
    paused_at = models.DateTimeField(default=timezone.now)
    paused_by = models.CharField(max_length=150, blank=True, help_text="Who paused it (a user, or the command).")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"queue {self.name} (paused)"


class CancelRequest(models.Model):
    """``durable.cancel`` asked to stop a running task (``durable.control``): the consumer running it stops it
    in its thread, as a time limit does, and records the attempt cancelled. Deleted once the task has ended."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, primary_key=True, related_name="cancel_request")
    requested_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"cancel task {self.task_id}"


class Flow(models.Model):
    """A chain (steps run one after another) or a batch (members run at once, callbacks when all have ended).

    ``durable.flows``: its tasks point to it (``Task.flow``); a chain inside a batch points to the batch
    (``parent``). ``finished_at`` is set once, by a conditional UPDATE in the transaction of the outcome that
    ended it, with the callbacks enqueued in that same transaction: each runs exactly once.
    """

    class Kind(models.TextChoices):
        CHAIN = "chain"
        BATCH = "batch"

    kind = models.CharField(max_length=8, choices=Kind)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="chains")
    status = models.CharField(max_length=16, default="running", help_text="running, successful or failed.")
    callbacks = models.JSONField(default=dict, blank=True, help_text="on_success / on_failure / on_finish calls.")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["finished_at"], name="durable_flow_unfinished")]

    def __str__(self):
        return f"{self.kind} {self.pk} ({self.status})"
