"""How a sender marks its mail's priority in the outbox (docs/outbox.md, "Priority").

When the relay limit (EMAIL_RATE_LIMIT) is the bottleneck, due rows are sent HIGH first, then NORMAL,
then BULK, oldest first within each::

    from notifications import priority

    with priority.sending(priority.HIGH):  # a welcome or a password reset its reader waits for
        message.send()

Mail sent outside such a block is NORMAL, except mail to the site's own ADMINS/MANAGERS only
(error reports), which is BULK.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

from notifications.models import Message

HIGH, NORMAL, BULK = Message.Priority.HIGH, Message.Priority.NORMAL, Message.Priority.BULK
_current = ContextVar("outbox_priority", default=None)


@contextmanager
def sending(level):
    """Every message queued inside the block gets ``level`` (HIGH, NORMAL or BULK)."""
    token = _current.set(Message.Priority(level))
    try:
        yield
    finally:
        _current.reset(token)


def of(recipients):
    """The priority of a message to ``recipients`` (envelope addresses) queued now."""
    level = _current.get()
    if level is not None:
        return level
    staff = {address.lower() for _, address in (*settings.ADMINS, *settings.MANAGERS)}
    if staff and {r.lower() for r in recipients} <= staff:
        return BULK
    return NORMAL
