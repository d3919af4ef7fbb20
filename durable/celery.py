"""Celery's ``shared_task`` on durable rows: change the import line, keep ``.delay()`` and ``.apply_async()``.

::

    from durable.celery import shared_task  # was: from celery import shared_task

    @shared_task
    def send_welcome_email(user_id): ...

    send_welcome_email.delay(user.pk)

The decorated function is a standard ``Task`` (``enqueue``, ``get_result``, ``using``, ``@options`` all work);
``delay`` and ``apply_async`` are ``enqueue`` under Celery's names. Celery options that have a durable meaning
are translated; the others are refused at definition with what to do instead (docs/migrating.md).
"""

from datetime import timedelta

from django.utils import timezone

from durable.compat import InvalidTask, Task
from durable.options import exponential, options

# Options accepted and ignored: durable keeps every result, and acks when the attempt is recorded.
IGNORED = {"ignore_result", "acks_late", "track_started"}
REFUSED = {
    "bind": "use @task(takes_context=True) and context.attempt, or raise to be retried (durable retries by itself)",
    "name": "a durable task is named by its dotted path (module.function)",
    "autoretry_for": "durable retries every exception already, up to max_retries + 1 attempts",
    "rate_limit": "use @options(group=...) and DURABLE_GROUP_LIMITS",
    "base": "a durable task is a standard Task",
}


class CeleryTask(Task):
    """A standard ``Task`` that also answers to Celery's ``delay`` and ``apply_async``."""

    __slots__ = ()

    def delay(self, *args, **kwargs):
        """``enqueue(*args, **kwargs)``: a row in the caller's transaction; returns the standard ``TaskResult``."""
        return self.enqueue(*args, **kwargs)

    def apply_async(self, args=None, kwargs=None, *, countdown=None, eta=None, queue=None, priority=None):
        """Enqueue with Celery's arguments: ``countdown`` (seconds) or ``eta`` (an aware datetime) to start later,
        ``queue`` (a name from DURABLE_QUEUES), ``priority`` (the standard's -100..100, higher first)."""
        if countdown is not None and eta is not None:
            raise InvalidTask(f"{self.module_path}: give countdown or eta, not both")
        run_after = eta
        if countdown is not None:
            run_after = timezone.now() + timedelta(seconds=float(countdown))
        if run_after is not None and timezone.is_naive(run_after):
            raise InvalidTask(f"{self.module_path}: eta must be an aware datetime (USE_TZ), not {run_after!r}")
        task = self.using(queue_name=queue, priority=priority, run_after=run_after)
        return task.enqueue(*(args or ()), **(kwargs or {}))


def shared_task(*func, **opts):
    """Decorator, bare (``@shared_task``) or with options (``@shared_task(queue="x", max_retries=5)``).

    Understood: ``queue``, ``priority``, ``max_retries`` (attempts = max_retries + 1),
    ``default_retry_delay`` (seconds between attempts; else durable's doubling back-off), ``time_limit``
    and ``soft_time_limit`` (seconds per attempt; the smaller wins). Refused with a hint: ``bind``, ``name``,
    ``autoretry_for``, ``rate_limit``, ``base``; any other option is an error too.
    """
    if func:
        if len(func) > 1 or opts or not callable(func[0]):
            raise TypeError("use @shared_task or @shared_task(option=value, ...)")
        return _declare(func[0], {})
    _durable_options(opts)  # a bad option fails here, at definition, not at the first enqueue
    return lambda f: _declare(f, opts)


def _declare(func, opts):
    if isinstance(func, Task):
        raise TypeError("@shared_task declares the task itself: drop the @task() under it")
    durable = _durable_options(opts)
    if durable:
        options(**durable)(func)
    return CeleryTask(
        func=func, priority=opts.get("priority", 0), queue_name=opts.get("queue", "default"), takes_context=False
    )


def _durable_options(opts):
    """Celery's options as ``durable.options`` keyword arguments; TypeError for one durable cannot honour."""
    for key in opts:
        if key in REFUSED:
            raise TypeError(f"shared_task({key}=...) is not supported: {REFUSED[key]}")
        if key not in {"queue", "priority", "max_retries", "default_retry_delay", "time_limit", "soft_time_limit"}:
            if key not in IGNORED:
                raise TypeError(f"shared_task({key}=...) is not a supported option (see docs/migrating.md)")
    durable = {}
    if "max_retries" in opts:
        retries = opts["max_retries"]
        if not isinstance(retries, int) or retries < 0:
            raise TypeError(f"max_retries must be a whole number >= 0 (no unlimited retries), not {retries!r}")
        durable["max_attempts"] = retries + 1
    if "default_retry_delay" in opts:
        delay = float(opts["default_retry_delay"])
        durable["backoff"] = lambda attempt: delay
    limits = [opts[k] for k in ("time_limit", "soft_time_limit") if opts.get(k) is not None]
    if limits:
        durable["time_limit"] = min(limits)
    if durable and "backoff" not in durable:
        durable["backoff"] = exponential
    return durable
