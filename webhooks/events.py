"""Events to deliveries: the ``site_event`` receiver, and operations' health turning to "consumer down"."""

import logging

from django.db import DatabaseError, transaction
from django.dispatch import receiver

from operations.signals import EVENT_TYPES, health_changed, site_event
from webhooks.delivery import lock, schedule
from webhooks.models import Delivery, Endpoint, Event

logger = logging.getLogger(__name__)


@receiver(site_event, dispatch_uid="webhooks.events.record")
def record(sender, type, data=None, summary="", **kwargs):
    """One event row and one delivery per subscribed endpoint, in the sender's transaction; returns the event.

    A database error here is logged and swallowed (inside a savepoint): a webhook must never undo a
    sign-up or an e-mail's outcome. An unknown ``type`` is the sender's bug and raises.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}; known: {', '.join(EVENT_TYPES)}")
    try:
        endpoints = [e for e in Endpoint.objects.all() if type in e.events]  # a handful: no JSON lookup needed
        if not endpoints:
            return None
        with transaction.atomic():
            event = Event.objects.create(type=type, data=data or {}, summary=summary[:500])
            for endpoint in endpoints:
                # Every delivery gets its task now (a paused endpoint's at its resume); durable runs an endpoint's
                # tasks one at a time in order. The row lock numbers them in the order their events commit.
                paused = lock(endpoint.pk)
                pending = Delivery.objects.create(endpoint=endpoint, event=event)
                if paused is None:
                    schedule(pending.pk, endpoint)
    except DatabaseError:
        logger.exception("webhook event %s from %s could not be recorded", type, sender)
        return None
    logger.info("webhook event %s %s: %s deliveries", event.uid, type, len(endpoints))
    return event


@receiver(health_changed, dispatch_uid="webhooks.events.consumer_down")
def consumer_down(sender, status, checks, **kwargs):
    """/health/ turned fail because no consumer reports: the "consumer down" event (sent once it runs again)."""
    consumer = checks.get("consumer", {})
    if status == "fail" and not consumer.get("ok", True):
        error = consumer.get("error", "")
        site_event.send(
            sender="operations", type="consumer.down", data={"error": error}, summary=f"Consumer down: {error}"
        )
