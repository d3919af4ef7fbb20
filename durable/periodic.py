"""Periodic tasks (docs/tasks.md, "Periodic tasks"): declared once on a standard-API task with ``@periodic``, run
once per scheduled minute whatever the consumers.

Every consumer ticks each minute (``durable.tasks.tick``) and at start-up. A tick takes each declared task's latest
slot with one conditional UPDATE on its ``Periodic`` row (``last_slot < slot``); only the consumer whose UPDATE
matched enqueues it, in the same transaction, so a slot runs once and is never lost. Slots missed while no consumer
ran are caught up once or skipped (``missed``). A schedule is what Huey's periodic tasks take (``crontab(...)``).
A declaration in no installed app's ``tasks`` module, or made after start-up, is logged; ``unloaded()`` lists the
rows no running consumer stamps (``seen_at``).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.apps import apps
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
# Consumers stamp the rows they declare every minute: a row this much older than the freshest stamp is known
# to no running consumer.
UNLOADED_AFTER = timedelta(minutes=3)
WHERE = "declare periodic tasks in the tasks module of an app in INSTALLED_APPS (docs/tasks.md, Periodic tasks)"

_declared = {}  # task path -> Declaration
_started = {"at": None}  # set by this consumer's start-up tick: declarations after it came late


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
            _, created = Periodic.objects.get_or_create(name=self.name, defaults={"last_slot": first, "seen_at": now})
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
        _warn_if_misplaced(task)
        return task

    return decorate


def declared():
    """Every declared periodic task, by name."""
    return dict(_declared)


def _warn_if_misplaced(task):
    """Say at once when a consumer could miss this declaration: it is in no installed app, or came late."""
    module = task.func.__module__
    if apps.ready and apps.get_containing_app_config(module) is None:
        logger.warning(
            "periodic %s: declared in %s, which is in no app of INSTALLED_APPS: %s", task.module_path, module, WHERE
        )
    elif _started["at"] is not None:
        logger.warning(
            "periodic %s: declared after this consumer started (%s was imported late, not at start-up); "
            "it runs only until the consumer restarts: %s",
            task.module_path,
            module,
            WHERE,
        )


def started(now=None):
    """A consumer's start-up: catch up what was missed, say what it declares, and which known rows it does not."""
    now = now or timezone.now()
    results = tick(now)
    _started["at"] = now
    logger.info("periodic tasks declared here: %s", ", ".join(sorted(_declared)) or "none")
    for name, seen in (
        Periodic.objects.exclude(name__in=list(_declared)).exclude(seen_at=None).values_list("name", "seen_at")
    ):
        logger.warning("periodic %s: not declared by this consumer (last seen %s); %s", name, seen.isoformat(), WHERE)
    return results


def unloaded(now=None):
    """Periodic tasks no running consumer declares: ``[{"name", "seen_at"}]`` (empty while no consumer ticks).

    A row whose stamp fell behind the freshest, and a task declared in this process that has no stamped row.
    """
    now = now or timezone.now()
    rows = dict(Periodic.objects.exclude(seen_at=None).values_list("name", "seen_at"))
    freshest = max(rows.values(), default=None)
    if freshest is None or now - freshest > UNLOADED_AFTER:
        return []  # no consumer ticks at all: /health/'s consumer probe says so
    names = {n for n, seen in rows.items() if freshest - seen > UNLOADED_AFTER} | (set(_declared) - set(rows))
    return [{"name": n, "seen_at": rows.get(n)} for n in sorted(names)]


def tick(now=None):
    """Take each declared task's slot that is due and no one took (every consumer, every minute and at start)."""
    now = now or timezone.now()
    Periodic.objects.filter(name__in=list(_declared)).update(seen_at=now)
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
