"""How other apps raise webhook events, without importing the webhooks app's internals.

An app sends ``webhook_event`` where the event happens, inside its own transaction::

    from webhooks.signals import webhook_event

    webhook_event.send(sender="accounts", type="user.signed_up", data={"user_id": 7}, summary="New user: ada")

``type`` is one of ``EVENT_TYPES``; ``data`` is JSON (ids and short facts, no secrets); ``summary``
is the one line a chat channel shows. The webhooks app turns it into one delivery per endpoint
that subscribed, committed with the sender's data (or not at all). This module imports nothing
of the app, so sending works (and does nothing) wherever no endpoint listens.
"""

from django.dispatch import Signal

EVENT_TYPES = {
    "user.signed_up": "User signed up",
    "report.ready": "Report ready",
    "email.failed": "E-mail failed permanently",
    "consumer.down": "Consumer down",
}

webhook_event = Signal()  # kwargs: type, data, summary
