"""Periodic tasks, declared once on a standard-API task, run once per scheduled minute whatever the consumers.

::

    from huey import crontab

    @periodic(crontab(minute="0", hour="3"), missed="once")
    @task()
    def nightly_export(): ...

Every consumer ticks each minute (``durable.tasks.tick``) and once at start-up. A tick finds each
declared task's latest scheduled minute (its *slot*) and takes it with one conditional UPDATE on the
task's ``durable.models.Periodic`` row (``last_slot < slot``): only the consumer whose UPDATE matched
enqueues it, in the same transaction, so two consumers, or a restart in the same minute, never run a slot
twice, and a slot taken is never lost (the row and the task commit together). Slots missed while no
consumer ran (the row's ``last_slot`` is older than the latest slot) are caught up once, as one run
(``missed="once"``), or skipped (``missed="skip"``: only a slot at most ``GRACE`` old runs). A task seen for
the first time starts with its latest slot as taken: declaring a task does not run it at once.

A schedule is what Huey's periodic tasks take: ``crontab(...)`` or any ``f(datetime) -> bool``,
asked about naive UTC minutes (naive local time with Huey's ``utc=False``).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.db import transaction
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from durable.compat import Task
from durable.models import Periodic

logger = logging.getLogger(__name__)

MISSED = ("once", "skip")
MINUTE = timedelta(minutes=1)
# A slot taken within this of its minute is on time (Huey ticks every 60 s from each consumer's start, and a
# busy queue delays a tick): ``missed="skip"`` skips only slots older than this.
GRACE = timedelta(minutes=2)
HORIZON = timedelta(days=8)  # the furthest back a tick looks for a slot (a weekly schedule, and a day's grace)

_declared = {}  # task path -> Declaration


def minute_of(at):
    """The minute ``at`` falls in, aware UTC: a slot."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def _accepts(schedule, minute):
    """Ask ``schedule`` about the aware UTC ``minute`` the way Huey's scheduler would."""
    if HUEY.utc:
        return schedule(minute.replace(tzinfo=None))
    return schedule(timezone.make_naive(minute))


def latest_slot(schedule, now, since=None):
    """The latest minute in (``since``, ``now``] that ``schedule`` accepts (aware UTC), or None."""
    floor = max(since, now - HORIZON) if since else now - HORIZON
    minute = minute_of(now)
    while minute > floor:
        if _accepts(schedule, minute):
            return minute
        minute -= MINUTE
    return None


def next_slot(schedule, now):
    """The first minute after ``now`` that ``schedule`` accepts (aware UTC), within the horizon; or None."""
    minute = minute_of(now) + MINUTE
    end = now + HORIZON
    while minute <= end:
        if _accepts(schedule, minute):
            return minute
        minute += MINUTE
    return None


def take(name, slot):
    """True for exactly one caller per ``(name, slot)``: a conditional UPDATE on ``name``'s row.

    Also serves work that is no task row: ``take("durable.sweep", minute)`` lets one consumer sweep per minute.
    """
    Periodic.objects.get_or_create(name=name, defaults={"last_slot": slot - MINUTE})
    return Periodic.objects.filter(name=name, last_slot__lt=slot).update(last_slot=slot, updated_at=timezone.now()) == 1


@dataclass(frozen=True)
class Declaration:
    """One periodic task: what to enqueue, on which schedule, and what to do with slots missed."""

    task: Task
    schedule: object  # f(naive datetime) -> bool, as Huey's crontab()
    missed: str = "once"

    @property
    def name(self):
        return self.task.module_path

    def tick(self, now):
        """Take this task's latest slot if no one has; enqueue it (or skip it, if missed and so declared).

        Returns the enqueued ``TaskResult``, or None.
        """
        row = Periodic.objects.filter(name=self.name).first()
        if row is None:
            first = latest_slot(self.schedule, now) or minute_of(now)
            _, created = Periodic.objects.get_or_create(name=self.name, defaults={"last_slot": first})
            if created:
                logger.info("periodic %s: first seen; slots from %s on", self.name, first.isoformat())
            return None
        slot = latest_slot(self.schedule, now, since=row.last_slot)
        if slot is None:
            return None
        missed = now - slot >= GRACE
        if missed and self.missed == "skip":
            if take(self.name, slot):
                logger.warning("periodic %s: slot %s missed (no consumer ran), skipped", self.name, slot.isoformat())
            return None
        with transaction.atomic():
            if not take(self.name, slot):
                return None  # another consumer took it
            result = self.task.enqueue()
            if str(result.id).isdigit():
                Periodic.objects.filter(name=self.name).update(last_task_id=int(result.id))
        logger.info(
            "periodic %s: slot %s %s as task %s",
            self.name,
            slot.isoformat(),
            f"caught up (last run for {row.last_slot.isoformat()})" if missed else "enqueued",
            result.id,
        )
        return result


def periodic(schedule, missed="once"):
    """Decorator: run a standard-API task on ``schedule``, once per slot across consumers and restarts.

    ``missed="once"``: slots missed while no consumer ran are caught up with one run; ``"skip"``: they are not.
    Put it above ``@task()`` (it needs the ``Task``); the task takes no arguments.
    """
    if missed not in MISSED:
        raise ValueError(f"missed must be one of {MISSED}, not {missed!r}")
    if not callable(schedule):
        raise ValueError("schedule must be crontab(...) or a callable (datetime) -> bool")

    def decorate(task):
        if not isinstance(task, Task):
            raise TypeError("@periodic goes above @task(): it declares a task, not a function")
        _declared[task.module_path] = Declaration(task, schedule, missed)
        return task

    return decorate


def declared():
    """Every declared periodic task, by name."""
    return dict(_declared)


def tick(now=None):
    """Take each declared task's slot that is due and no one took (every consumer, every minute and at start)."""
    now = now or timezone.now()
    results = []
    for declaration in _declared.values():
        try:
            result = declaration.tick(now)
        except Exception:  # noqa: BLE001 - one broken declaration must not stop the others; the next tick retries
            logger.exception("periodic %s: tick failed", declaration.name)
            continue
        if result is not None:
            results.append(result)
    return results
