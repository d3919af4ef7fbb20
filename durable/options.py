"""Per-task options, in the shape django/new-features#142 proposes: attempts, back-off, time limit, unique key, group.

Stack ``@options(...)`` on a standard ``@task()`` (either order)::

    @options(max_attempts=5, backoff=lambda attempt: 30 * attempt, time_limit=60, group="images")
    @task()
    def resize_avatar(user_id): ...

Other backends ignore them; ``durable.backend.DurableBackend`` reads them at enqueue and run time.
"""

from dataclasses import dataclass
from typing import Any


def exponential(attempt):
    """The default back-off: 10 s after the first failed attempt, doubling, at most an hour."""
    return min(10 * 2 ** (attempt - 1), 3600)


@dataclass(frozen=True)
class Options:
    """How the durable backend runs one task (``None`` max_attempts: the DURABLE_MAX_ATTEMPTS setting)."""

    max_attempts: int | None = None
    backoff: Any = exponential  # attempt number (1 = the first that failed) -> seconds to wait
    time_limit: float | None = None  # seconds per attempt
    unique_key: Any = None  # a string, or a callable (*args, **kwargs) -> string; None: no key
    group: str = ""  # concurrency group; its running cap is DURABLE_GROUP_LIMITS[group] (default 1)

    def __post_init__(self):
        if self.max_attempts is not None and (not isinstance(self.max_attempts, int) or self.max_attempts < 1):
            raise ValueError(f"max_attempts must be a whole number >= 1, not {self.max_attempts!r}")
        if not callable(self.backoff):
            raise ValueError("backoff must be a callable: attempt number -> seconds")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be a number of seconds > 0, not {self.time_limit!r}")
        if self.unique_key is not None and not (isinstance(self.unique_key, str) or callable(self.unique_key)):
            raise ValueError("unique_key must be a string or a callable (*args, **kwargs) -> string")
        if not isinstance(self.group, str) or len(self.group) > 64:
            raise ValueError("group must be a name of at most 64 characters")

    def key_for(self, args, kwargs):
        """The unique key of one enqueue ("" for none)."""
        if self.unique_key is None:
            return ""
        key = self.unique_key(*args, **kwargs) if callable(self.unique_key) else self.unique_key
        return str(key)[:255] if key else ""


DEFAULT = Options()


def options(**kwargs):
    """Decorator: set durable options on a task (a standard ``Task``, or the function under ``@task()``)."""
    opts = Options(**kwargs)

    def decorate(obj):
        func = getattr(obj, "func", obj)  # a Task, or the bare function
        func.durable_options = opts
        return obj

    return decorate


def options_of(task):
    """The options of ``task`` (a standard ``Task``): its own, or the defaults."""
    return getattr(task.func, "durable_options", DEFAULT)
