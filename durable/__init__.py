"""Durable background tasks: Django's standard Tasks API on rows with fenced, renewed leases (issue 10).

The names of issue 17 (``call``, ``chain``, ``batch``, ``enqueue_many``, ...) are imported lazily: their modules
need the models, and this package is imported before the app registry is ready (``durable.options`` in a
models module).
"""

from durable.compat import InvalidTask
from durable.options import options

__all__ = [
    "InvalidTask",
    "Snooze",
    "batch",
    "call",
    "cancel",
    "chain",
    "enqueue_many",
    "get_batch",
    "get_flow",
    "options",
    "retry",
]

_LAZY = {
    "call": "durable.calls",
    "Call": "durable.calls",
    "enqueue_many": "durable.calls",
    "Snooze": "durable.control",
    "cancel": "durable.control",
    "retry": "durable.bulk",
    "chain": "durable.flows",
    "batch": "durable.flows",
    "get_flow": "durable.flow_results",
    "get_batch": "durable.flow_results",
}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'durable' has no attribute {name!r}")
