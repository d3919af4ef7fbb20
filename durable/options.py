"""Per-task options, in the shape django/new-features#142 proposes: attempts, back-off, time limit, unique key, group
(a name, or a callable giving a key per enqueue), with a ``concurrency`` cap and a start ``rate`` per key.

Stack ``@options(...)`` on a standard ``@task()`` (either order)::

    @options(max_attempts=5, backoff=lambda attempt: 30 * attempt, time_limit=60, group="images")
    @task()
    def resize_avatar(user_id): ...

Other backends ignore them; ``durable.backend.DurableBackend`` reads them at enqueue and run time.
"""

import re
from dataclasses import dataclass
from typing import Any

from durable.compat import InvalidTask


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
    group: Any = ""  # concurrency group: a name, or (*args, **kwargs) -> key (issue 17: per-key limits)
    concurrency: int | None = None  # running cap per group key; None: DURABLE_GROUP_LIMITS[group] (default 1)
    rate: str | None = None  # starts per key, "N/s", "N/m" or "N/h" (durable.limits)
    rate_key: Any = None  # group key -> a prefix of it: the rate counts every key with that prefix (per host)
    ordered: bool = False  # a key's tasks start one at a time, in enqueue order; a retry holds the later back

    def __post_init__(self):
        if self.max_attempts is not None and (not isinstance(self.max_attempts, int) or self.max_attempts < 1):
            raise ValueError(f"max_attempts must be a whole number >= 1, not {self.max_attempts!r}")
        if not callable(self.backoff):
            raise ValueError("backoff must be a callable: attempt number -> seconds")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be a number of seconds > 0, not {self.time_limit!r}")
        if self.unique_key is not None and not (isinstance(self.unique_key, str) or callable(self.unique_key)):
            raise ValueError("unique_key must be a string or a callable (*args, **kwargs) -> string")
        if not (callable(self.group) or isinstance(self.group, str) and len(self.group) <= 64):
            raise ValueError("group must be a name of at most 64 characters, or a callable (*args, **kwargs) -> key")
        check_limits(self)  # concurrency and rate: durable.limits

    def key_for(self, args, kwargs):
        """The unique key of one enqueue ("" for none)."""
        if self.unique_key is None:
            return ""
        key = self.unique_key(*args, **kwargs) if callable(self.unique_key) else self.unique_key
        return str(key)[:255] if key else ""

    def group_for(self, args, kwargs):
        """The group key of one enqueue ("" for none); ``InvalidTask`` when the group callable fails."""
        if not callable(self.group):
            return self.group
        try:
            key = self.group(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the caller's function: say which and why, write nothing
            raise InvalidTask(f"the group callable raised {type(exc).__name__}: {exc}") from exc
        key = "" if key is None else str(key)
        if len(key) > 64:
            raise InvalidTask(f"the group callable gave a key longer than 64 characters: {key[:80]!r}")
        if key and self.rate_key is not None and not key.startswith(self.rate_scope(key)):
            raise InvalidTask(f"rate_key must give a prefix of the group key {key!r}, not {self.rate_scope(key)!r}")
        return key

    def rate_scope(self, key):
        """What ``rate`` counts for a task of group key ``key``: the keys starting with ``rate_key(key)``, or ``key``."""
        return str(self.rate_key(key) or "") if self.rate_key is not None else key


PERIODS = {"s": 1, "m": 60, "h": 3600}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")


def parse_rate(text):
    """``"10/s"`` -> ``(10, 1.0)``: starts, per seconds (``N/s``, ``N/m``, ``N/h``, or ``N/5s``); ValueError else."""
    match = RATE.match(text) if isinstance(text, str) else None
    if not match or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(f"rate must be starts per period, e.g. '10/s', '100/m' or '5/10s' (at least 1), not {text!r}")
    return int(match.group(1)), float(int(match.group(2) or 1) * PERIODS[match.group(3)])


def check_limits(opts):
    """ValueError, when the task is defined, for a ``concurrency`` below 1 or a ``rate`` that does not parse."""
    if opts.concurrency is not None and (
        isinstance(opts.concurrency, bool) or not isinstance(opts.concurrency, int) or opts.concurrency < 1
    ):
        raise ValueError(f"concurrency must be a whole number >= 1, not {opts.concurrency!r}")
    if opts.rate is not None:
        parse_rate(opts.rate)
    if (opts.concurrency is not None or opts.rate is not None or opts.ordered) and not opts.group:
        raise ValueError("concurrency, rate and ordered apply per group key: give group= (a name or a callable) too")
    if opts.rate_key is not None and (opts.rate is None or not callable(opts.rate_key)):
        raise ValueError("rate_key is a callable (group key -> a prefix of it) and needs rate= too")
    if opts.ordered not in (True, False) or opts.ordered and opts.concurrency not in (None, 1):
        raise ValueError("ordered=True runs a key's tasks one at a time: it takes no concurrency above 1")


DEFAULT = Options()
ORDERED = set()  # the names of the tasks with ordered=True this process has defined


def options(**kwargs):
    """Decorator: set durable options on a task (a standard ``Task``, or the function under ``@task()``)."""
    opts = Options(**kwargs)

    def decorate(obj):
        func = getattr(obj, "func", obj)  # a Task, or the bare function
        func.durable_options = opts
        if opts.ordered:  # the claim's filter needs their names (durable.limits.in_order)
            ORDERED.add(f"{func.__module__}.{func.__qualname__}")
        return obj

    return decorate


def options_of(task):
    """The options of ``task`` (a standard ``Task``): its own, or the defaults."""
    return getattr(task.func, "durable_options", DEFAULT)
