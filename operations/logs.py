"""Task context for log lines: each line a task writes names the task, and each run ends with one outcome line.

With ``LOG_FORMAT=json`` these are fields of the JSON object (``task``, ``task_id``, ``duration``,
``outcome``); in text they read as the sentence. The Huey signals are connected in ``operations.tasks``.
"""

import logging
import threading
import time

from huey import signals

logger = logging.getLogger(__name__)
_running = threading.local()  # the task this worker thread runs now
ENDINGS = {
    signals.SIGNAL_COMPLETE: "complete",
    signals.SIGNAL_ERROR: "error",
    signals.SIGNAL_CANCELED: "canceled",
    signals.SIGNAL_INTERRUPTED: "interrupted",
    signals.SIGNAL_TIMEOUT: "timeout",
    signals.SIGNAL_LOCKED: "locked",
    signals.SIGNAL_RATE_LIMITED: "rate limited",
}


class TaskContext(logging.Filter):
    """Adds ``task`` and ``task_id`` to every record written while a task runs in this thread."""

    def filter(self, record):
        task = getattr(_running, "task", None)
        if task is not None and not hasattr(record, "task"):
            record.task, record.task_id = task_name(task), task.id
        return True


def current_task():
    """The Huey task this thread runs now, or None."""
    return getattr(_running, "task", None)


def task_name(task):
    """``notifications.tasks.deliver``: Huey's own name is the bare function name."""
    return f"{type(task).__module__}.{task.name}"


def task_started(signal, task):
    _running.task, _running.started = task, time.monotonic()


def task_ended(signal, task, exc=None):
    """One line per run: the task, its id, how it ended and how long it took."""
    started = getattr(_running, "started", None)
    duration = round(time.monotonic() - started, 4) if started is not None else None
    outcome = ENDINGS.get(signal, signal)
    _running.task = _running.started = None
    name = task_name(task)
    logger.log(
        logging.WARNING if signal == signals.SIGNAL_ERROR else logging.INFO,
        "task %s %s %s in %s s%s",
        name,
        task.id,
        outcome,
        "?" if duration is None else f"{duration:.3f}",
        f": {type(exc).__name__}: {exc}" if exc is not None else "",
        extra={"task": name, "task_id": task.id, "duration": duration, "outcome": outcome},
    )
