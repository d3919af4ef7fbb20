"""The batch an ``enqueue()`` in this thread joins: set by ``with batch()`` (``durable.flows``), read at enqueue."""

import threading

_open = threading.local()


def current_batch_id():
    """The id of the batch whose ``with`` block this thread is in, or None."""
    return getattr(_open, "batch_id", None)


def open_batch(batch_id):
    """Enqueues in this thread join batch ``batch_id`` (None: no batch) until it is closed."""
    _open.batch_id = batch_id
