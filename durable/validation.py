"""Arguments checked against the task's signature at ``enqueue``, so a call that cannot run is refused at once.

Without it a missing argument is written, then fails with ``TypeError`` on every attempt, with back-off.
"""

import inspect

from durable.compat import InvalidTask


def check_arguments(task, args, kwargs):
    """Raise ``InvalidTask`` when ``args``/``kwargs`` cannot bind to ``task``'s function, naming the task."""
    signature = inspect.signature(task.func)
    if task.takes_context:
        args = (None, *args)  # the worker passes the context first
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise InvalidTask(f"{task.module_path}{signature}: {exc}") from None
