"""Arguments checked against the task's signature at ``enqueue``, so a call that cannot run is refused at once.

Without it a missing argument is written, then fails with ``TypeError`` on every attempt, with back-off.
"""

import functools
import inspect

from durable.compat import InvalidTask


def check_arguments(task, args, kwargs, leading=0):
    """Raise ``InvalidTask`` when ``args``/``kwargs`` cannot bind to ``task``'s function, naming the task.

    ``leading``: how many positional arguments the worker puts first (a chain step's previous return value).
    """
    signature = _signature(task.func)
    args = (None,) * (leading + bool(task.takes_context)) + tuple(args)  # the context comes first, then those
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise InvalidTask(f"{task.module_path}{signature}: {exc}") from None


@functools.lru_cache(maxsize=1024)
def _signature(func):
    return inspect.signature(func)
