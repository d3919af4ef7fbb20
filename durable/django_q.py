"""Django Q's ``async_task`` and ``schedule`` on durable rows: change the import lines.

::

    from durable.django_q import Schedule, async_task, schedule  # was: django_q.tasks / django_q.models

    async_task("accounts.tasks.send_welcome_email", user.pk)
    schedule("cache_tools.tasks.clear_cache", schedule_type=Schedule.CRON, cron="0 3 * * *")

Unlike Django Q, a dotted path runs only a declared task (a function under ``@task()`` or
``durable.celery.shared_task``) of a module already imported: the installed apps' ``tasks`` modules are
imported as the consumer imports them, and nothing else is ever imported from a path. A path that comes
from a request cannot make the site import or run arbitrary code.
"""

import sys

from django.utils.module_loading import autodiscover_modules
from huey import crontab

from durable.compat import InvalidTask, Task
from durable.periodic import periodic

# Django Q's own keyword arguments: durable has other ways to say these, so they are refused, not passed on.
RESERVED = {"hook", "group", "timeout", "sync", "cached", "save", "task_name", "cluster", "q_options", "broker"}


class Schedule:
    """Django Q's ``Schedule.CRON``: the one schedule type ``schedule`` takes (a cron string)."""

    CRON = "C"


def declared_task(func):
    """The declared ``Task`` named by ``func`` (a dotted path, or the ``Task`` itself); ``InvalidTask`` otherwise."""
    if isinstance(func, Task):
        return func
    if not isinstance(func, str):
        raise InvalidTask(f"{func!r} is not a task: decorate it with @task() and pass it or its dotted path")
    module_path, _, name = func.rpartition(".")
    module = sys.modules.get(module_path)
    if module is None:
        autodiscover_modules("tasks")  # the apps' tasks modules, as the consumer imports them; never the path itself
        module = sys.modules.get(module_path)
    obj = getattr(module, name, None) if module is not None else None
    if not isinstance(obj, Task):
        raise InvalidTask(
            f"{func!r} is not a declared task: only functions under @task() (or shared_task) in a module "
            "already imported (an installed app's tasks.py) run by dotted path"
        )
    return obj


def async_task(func, *args, **kwargs):
    """Enqueue the task ``func`` (dotted path or ``Task``) with ``args`` and ``kwargs``; return its result id.

    The row is written in the caller's transaction (Django Q's ``async_task`` sends at once).
    """
    reserved = sorted(RESERVED & set(kwargs))
    if reserved:
        raise InvalidTask(
            f"async_task({', '.join(reserved)}=...) is Django Q's option, not supported here: "
            "use durable.options on the task (docs/migrating.md)"
        )
    return declared_task(func).enqueue(*args, **kwargs).id


def schedule(func, *args, schedule_type=Schedule.CRON, cron=None, name=None, **kwargs):
    """Run the task ``func`` on the cron string ``cron`` (``"0 3 * * *"``: 03:00 UTC), once per slot across consumers.

    Durable's schedule lives in the code (``durable.periodic``), not in a table: call this where the task is
    declared (its ``tasks.py``), so every consumer knows it. Returns the task.
    """
    if schedule_type != Schedule.CRON:
        raise InvalidTask(f"schedule_type={schedule_type!r}: only Schedule.CRON (a cron string) is supported")
    if args or kwargs:
        raise InvalidTask("a scheduled task takes no arguments: give it defaults, or schedule a task that calls it")
    fields = (cron or "").split()
    if len(fields) != 5:
        raise InvalidTask(f"cron={cron!r}: expected five fields, minute hour day month day-of-week")
    try:
        spec = crontab(*fields)
    except ValueError as exc:
        raise InvalidTask(f"cron={cron!r}: {exc}") from None
    return periodic(spec, missed="once")(declared_task(func))
