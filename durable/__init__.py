"""Durable background tasks: Django's standard Tasks API on rows with fenced, renewed leases (issue 10).

The names of issue 17 (``call``, ``enqueue_many``, ...) are imported lazily: ``durable.calls`` needs the
models, and this package is imported before the app registry is ready (``durable.options`` in a models module).
"""

from durable.options import options

__all__ = ["call", "enqueue_many", "options"]

_LAZY = {"call": "durable.calls", "enqueue_many": "durable.calls", "Call": "durable.calls"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'durable' has no attribute {name!r}")
