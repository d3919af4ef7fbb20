"""Signals of the site's lowest layer, so apps can tell each other things without importing each other.

``health_changed``: operations saw ``/health/`` change status ("ok" or "fail"); kwargs: status, checks
(each probe's result by name).

``site_event``: something happened that outside systems may want to hear of (the webhooks app turns it
into deliveries). An app sends it where the event happens, inside its own transaction::

    from operations.signals import site_event

    site_event.send(sender="accounts", type="user.signed_up", data={"user_id": 7}, summary="New user: ada")

``type`` is one of ``EVENT_TYPES``; ``data`` is JSON (ids and short facts, no secrets); ``summary`` is the
one line a chat channel shows. Sending works (and does nothing) where nobody listens.
"""

from django.dispatch import Signal

health_changed = Signal()

EVENT_TYPES = {
    "user.signed_up": "User signed up",
    "report.ready": "Report ready",
    "email.failed": "E-mail failed permanently",
    "consumer.down": "Consumer down",
}

site_event = Signal()  # kwargs: type, data, summary
