"""Sending one delivery: in order per endpoint, signed, recorded, retried or paused.

Each delivery is sent by one durable task (``webhooks.tasks.deliver``, unique per delivery, so per
endpoint and event), enqueued with the event. The order is durable's, not ours: the tasks' group key is
the endpoint (``queue_key``) with ``concurrency=1, ordered=True``, so an endpoint's deliveries start one
at a time in the order they were recorded, and one waiting for its retry (``RetryLater`` carries the
wait, from ``Retry-After`` or the back-off) holds the later ones back: every endpoint's events arrive in
the order they happened, whatever fails. The key's prefix is the host (``host_scope``): the task's
``rate`` (WEBHOOKS_RATE_PER_HOST) counts the starts of every endpoint on one host.

Logs name deliveries, endpoints and hosts; never a URL's path (a chat URL's path is its secret),
a body, a response or a secret.
"""

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from webhooks import signing
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.safety import UnsafeAddress

logger = logging.getLogger(__name__)

RETRY_STATUSES = {408, 429}  # and every 5xx


class RetryLater(Exception):  # noqa: N818 - the durable backend retries after ``retry_after`` seconds
    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Answer:
    """What one POST came to."""

    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    retry_after: float | None = None
    unsafe: bool = False

    @property
    def ok(self):
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self):
        if self.status_code is None:
            return not self.unsafe  # connection refused or reset, timeouts
        return self.status_code in RETRY_STATUSES or self.status_code >= 500


def body(delivery):
    """The request body: the event as JSON, or the chat shape (``{"text": ...}``) Slack, Mattermost and Teams take."""
    event = delivery.event
    if delivery.endpoint.format == Endpoint.Format.CHAT:
        payload = {"text": chat_text(event.summary or event.label)}
    else:
        payload = {
            "id": event.uid,
            "type": event.type,
            "timestamp": event.occurred_at.isoformat(),
            "data": event.data,
        }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# What chat formats read as markup: Slack's control sequences (<!channel>, <@U123>, <url|text>) need the three
# HTML escapes it documents; Mattermost (and Slack with link_names) mentions on a bare "@channel", which a
# zero-width space after the "@" breaks while it reads the same.
CHAT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "@\u200b"})


def chat_text(text):
    """``text`` as a chat message shows it, never as a mention or a link: a username can be ``@channel``."""
    return text.translate(CHAT_ESCAPES)


def backoff(attempt):
    """Seconds before retrying after failed attempt ``attempt`` (1 = the first): doubling, capped."""
    return min(settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** (attempt - 1), settings.WEBHOOKS_RETRY_MAX_SECONDS)


def retry_after(value):
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None (absent, or nonsense:
    ``nan`` and ``inf`` parse as floats but are no wait)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - timezone.now()).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def post(endpoint, event_id, content):
    """POST ``content`` to ``endpoint``, signed; never raises for the receiver's faults."""
    from webhooks import client  # httpx and httpcore: ~3 MB, loaded by the first delivery, not by every consumer

    now = int(time.time())
    headers = {"content-type": "application/json", **signing.headers(endpoint.secret, event_id, now, content)}
    try:
        status, head, excerpt = client.post(endpoint.url, content, headers)
    except UnsafeAddress as exc:
        return Answer(error=f"refused: {exc}", unsafe=True)
    except client.TransportFailure as exc:
        return Answer(error=str(exc))
    except Exception as exc:  # noqa: BLE001 - whatever else a hostile answer trips is a failed attempt too
        logger.warning("webhook endpoint %s (%s): the POST raised %s", endpoint.pk, endpoint.host, type(exc).__name__)
        return Answer(error=f"{type(exc).__name__}: {str(exc).replace(endpoint.url, endpoint.host)[:200]}")
    answer = Answer(status_code=status, excerpt=excerpt, retry_after=retry_after(head.get("retry-after")))
    if 300 <= status < 400:
        answer.error = f"{status}: redirect to {head.get('location', '?')[:200]} not followed; fix the endpoint's URL"
    elif not answer.ok:
        answer.error = f"{status} {client.reason(status)}"
    return answer


def deliver(delivery_id):
    """The durable task's work: send ``delivery_id`` unless it is done or its endpoint paused. Returns what happened."""
    delivery = Delivery.objects.select_related("endpoint", "event").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return "done already"
    if delivery.endpoint.paused_at:
        return "waiting: endpoint paused"  # ``resume`` gives it a task again
    return send(delivery)


def queue_key(endpoint):
    """The durable group key of ``endpoint``'s deliveries: ``webhook:<host>/<endpoint id>`` (at most 64 characters;
    a host longer than 32 is its digest). One delivery at a time per key, in order; the rate per host prefix."""
    host = endpoint.host
    if len(host) > 32:
        host = hashlib.sha256(host.encode()).hexdigest()[:32]
    return f"webhook:{host}/{endpoint.pk}"


def host_scope(key):
    """The host part of a ``queue_key`` (``webhook:<host>/``): what WEBHOOKS_RATE_PER_HOST counts."""
    return key.rpartition("/")[0] + "/"


# Named by its dotted path, as a task row names its task: the task module imports this one, never the reverse.
DELIVER_TASK = "webhooks.tasks.deliver"


def schedule(delivery_id, endpoint):
    """Make sure ``delivery_id`` (a delivery to ``endpoint``) has a task; its unique key folds a second into the first."""
    import_string(DELIVER_TASK).enqueue(delivery_id, queue_key(endpoint))


def send(delivery):
    """One attempt at the head delivery; records it; raises ``RetryLater`` for the durable backend to retry."""
    endpoint, number = delivery.endpoint, delivery.attempts + 1
    with transaction.atomic():  # the attempt is on record before the POST
        Delivery.objects.filter(pk=delivery.pk).update(attempts=number)
        if number > 1:  # an attempt still "sending" was cut off with its consumer: say so
            delivery.attempt_log.filter(outcome=Attempt.Outcome.SENDING).update(error="its consumer stopped mid-way")
        attempt = Attempt.objects.create(delivery=delivery, number=number)
    began = time.monotonic()
    answer = post(endpoint, delivery.event.uid, body(delivery))
    attempt.duration = time.monotonic() - began
    attempt.status_code, attempt.error = answer.status_code, answer.error[:500]
    attempt.response_excerpt = answer.excerpt
    where = f"webhook delivery {delivery.pk} ({delivery.event.type}) to endpoint {endpoint.pk} ({endpoint.host})"
    tries = f"attempt {number}, {attempt.duration:.2f} s"

    if answer.ok:
        with transaction.atomic():
            finish(delivery, attempt, Attempt.Outcome.DELIVERED, Delivery.Status.DELIVERED)
            if endpoint.consecutive_failures:
                Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        logger.info("%s delivered (%s): %s", where, tries, answer.status_code)
        return "delivered"
    if answer.unsafe:
        attempt.outcome = Attempt.Outcome.PAUSED
        attempt.save()
        endpoint.pause(f"{answer.error}. Fix the URL or WEBHOOKS_ALLOWED_NETWORKS, then resume it.")
        logger.error("%s: endpoint paused, %s", where, answer.error)
        return "endpoint paused"

    failures = endpoint.record_failure()
    if failures >= settings.WEBHOOKS_PAUSE_AFTER:
        with transaction.atomic():
            endpoint.pause(f"{failures} failed attempts in a row; the last: {answer.error}")
            if answer.retryable:
                attempt.outcome = Attempt.Outcome.PAUSED
                attempt.save()
                Delivery.objects.filter(pk=delivery.pk).update(last_error=answer.error[:500], next_attempt_at=None)
            else:  # failed for good; the next waits for the resume
                finish(delivery, attempt, Attempt.Outcome.FAILED, Delivery.Status.FAILED, error=answer.error)
        logger.error("%s failed (%s): %s; endpoint paused after %s failures", where, tries, answer.error, failures)
        return "endpoint paused"
    if not answer.retryable:
        with transaction.atomic():
            finish(delivery, attempt, Attempt.Outcome.FAILED, Delivery.Status.FAILED, error=answer.error)
        logger.warning("%s failed (%s), not retried: %s", where, tries, answer.error)
        return "failed"

    wait = min(answer.retry_after, settings.WEBHOOKS_RETRY_MAX_SECONDS) if answer.retry_after else backoff(number)
    attempt.outcome = Attempt.Outcome.RETRY
    attempt.save()
    Delivery.objects.filter(pk=delivery.pk).update(
        last_error=answer.error[:500], next_attempt_at=timezone.now() + timedelta(seconds=wait)
    )
    logger.warning("%s failed (%s), retry in %.0f s: %s", where, tries, wait, answer.error)
    raise RetryLater(f"delivery {delivery.pk} to endpoint {endpoint.pk}: {answer.error}", retry_after=wait)


def finish(delivery, attempt, outcome, status, error=""):
    """Record the last attempt and the delivery's end (durable then starts the endpoint's next delivery)."""
    attempt.outcome = outcome
    attempt.save()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, finished_at=timezone.now(), last_error=error[:500], next_attempt_at=None
    )


def lock(endpoint_id):
    """Lock the endpoint's row until the transaction ends (SQLite: the write lock is already held); its paused_at.

    An event takes it before recording its delivery, so one endpoint's deliveries (and their tasks, which
    durable starts in id order) are numbered in the order their transactions commit.
    """
    return Endpoint.objects.select_for_update().filter(pk=endpoint_id).values_list("paused_at", flat=True).first()


def resume(endpoint_ids):
    """Staff resume paused endpoints: what waited is sent, in order. Returns how many were paused."""
    resumed = 0
    for pk in endpoint_ids:
        with transaction.atomic():
            n = Endpoint.objects.filter(pk=pk, paused_at__isnull=False).update(
                paused_at=None, paused_reason="", consecutive_failures=0
            )
            if n:
                pending = Delivery.objects.filter(endpoint_id=pk, status=Delivery.Status.PENDING)
                pending.update(next_attempt_at=timezone.now())
                endpoint = Endpoint.objects.get(pk=pk)
                for delivery_id in pending.order_by("id").values_list("id", flat=True):
                    schedule(delivery_id, endpoint)  # in order: durable starts them in this order
                logger.info("webhook endpoint %s resumed", pk)
        resumed += n
    return resumed


def kick(overdue_seconds=120):
    """Every few minutes: a delivery overdue (its task lost or given up) gets a task again. Returns how many.

    One that still has its task keeps it (the task's unique key folds the new one into it).
    """
    since = timezone.now() - timedelta(seconds=overdue_seconds)
    overdue = Delivery.objects.filter(
        status=Delivery.Status.PENDING, endpoint__paused_at=None, next_attempt_at__lt=since
    ).select_related("endpoint")
    kicked = 0
    for delivery in overdue.order_by("id"):
        schedule(delivery.pk, delivery.endpoint)
        kicked += 1
    if kicked:
        logger.warning("webhooks: %s overdue deliveries; enqueued again", kicked)
    return kicked
