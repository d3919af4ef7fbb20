"""Claim due outbox rows, send them over one connection, record each outcome.

Huey only carries wake-ups: any delivery task drains whatever is due, so lost
or duplicate tasks cost nothing, and a lost consumer is recovered from the
rows alone (lease expiry, see ``sweep``).
"""

import logging
import os
import smtplib
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from notifications.models import Message, retry_delay
from notifications.transport import Transport

logger = logging.getLogger(__name__)
HOST = socket.gethostname()


def worker_id():
    return f"{HOST}:{os.getpid()}"


@dataclass
class Outcome:
    """What one delivery run did, for the task to log and schedule from."""

    sent: int = 0
    failed: int = 0
    retry_at: list = field(default_factory=list)
    more_due: bool = False


def claim(ids=(), limit=None):
    """Atomically take up to ``limit`` due rows (``ids`` first) for this worker; return them.

    The claim is one conditional UPDATE, committed before anything is sent:
    two consumers can never hold the same row.
    """
    limit = limit or settings.NOTIFICATIONS_BATCH_SIZE
    for _ in range(5):
        now = timezone.now()
        due = Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=now)
        candidates = list(due.filter(id__in=list(ids)[:limit]).values_list("id", flat=True)) if ids else []
        if len(candidates) < limit:
            candidates += list(
                due.exclude(id__in=candidates)
                .order_by("due_at", "id")
                .values_list("id", flat=True)[: limit - len(candidates)]
            )
        if not candidates:
            return []
        token = uuid.uuid4().hex
        won = due.filter(id__in=candidates).update(
            status=Message.Status.SENDING,
            claim_token=token,
            claimed_by=worker_id(),
            lease_expires_at=now + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
        if won:
            return list(Message.objects.filter(claim_token=token).order_by("due_at", "id"))
        ids = ()  # Another worker took them first; look again.
    return []


def classify(exc):
    """Return ``(permanent, text)`` for a failed send."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{addr}: {code} {_reply(resp)}" for addr, (code, resp) in exc.recipients.items())
        return all(500 <= c < 600 for c in codes), text
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return 500 <= exc.smtp_code < 600, f"{exc.smtp_code} {_reply(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return False, f"{exc.smtp_code} {_reply(exc.smtp_error)}"
    return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _connection_lost(exc):
    """True when the SMTP session cannot go on (the relay hung up, timed out or said 421)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return True


def _reply(resp):
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def send_batch(transport, batch, stop_at, outcome):
    """Send each claimed row and record its outcome on the row."""
    for index, row in enumerate(batch):
        if time.monotonic() >= stop_at:
            for rest in batch[index:]:
                rest.release()
            outcome.more_due = True
            return
        started = time.monotonic()
        try:
            refused = transport.send(row)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
            if _connection_lost(exc):
                transport.reset()
            record_failure(row, exc, outcome)
        else:
            note = "; ".join(f"refused {a}: {c} {_reply(r)}" for a, (c, r) in refused.items())
            row.mark_sent(note)
            outcome.sent += 1
            logger.info("outbox %s sent in %.3f s (attempt %s)", row.pk, time.monotonic() - started, row.attempts)


def record_failure(row, exc, outcome):
    permanent, text = classify(exc)
    if permanent:
        row.mark_failed(text)
        outcome.failed += 1
        logger.warning("outbox %s failed permanently: %s", row.pk, text)
    elif row.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        row.mark_failed(f"gave up after {row.attempts} attempts: {text}")
        outcome.failed += 1
        logger.error("outbox %s failed after %s attempts: %s", row.pk, row.attempts, text)
    else:
        delay = retry_delay(row.attempts)
        due = timezone.now() + delay
        row.mark_retry(text, due)
        outcome.retry_at.append(due)
        logger.warning(
            "outbox %s retry %s/%s in %.0f s: %s",
            row.pk,
            row.attempts,
            settings.NOTIFICATIONS_MAX_ATTEMPTS,
            delay.total_seconds(),
            text,
        )


def deliver(ids=(), transport_factory=Transport):
    """Send ``ids`` and then anything else due, over one connection, until nothing is due.

    Bounded by half the lease, so no row outlives its lease while held.
    """
    outcome = Outcome()
    stop_at = time.monotonic() + settings.NOTIFICATIONS_LEASE_SECONDS / 2
    transport = None
    try:
        while True:
            if time.monotonic() >= stop_at:
                outcome.more_due = True
                break
            batch = claim(ids)
            ids = ()
            if not batch:
                break
            transport = transport or transport_factory()
            send_batch(transport, batch, stop_at, outcome)
    finally:
        if transport is not None:
            transport.close()
    return outcome


def sweep(now=None):
    """Recover rows a lost consumer held, and find queued rows no task picked up.

    Returns how many rows are due and waiting, so the caller can wake consumers.
    """
    now = now or timezone.now()
    expired = Message.objects.filter(status=Message.Status.SENDING, lease_expires_at__lt=now)
    recovered = expired.update(
        status=Message.Status.QUEUED,
        due_at=now,
        claim_token="",
        lease_expires_at=None,
        last_error="lease expired: the consumer holding it stopped",
    )
    if recovered:
        logger.warning("sweeper: %s outbox rows recovered from an expired lease", recovered)
    stale_before = now - timedelta(seconds=settings.NOTIFICATIONS_REQUEUE_AFTER_SECONDS)
    stale = Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=stale_before).count()
    if stale:
        logger.warning(
            "sweeper: %s queued outbox rows waited over %s s; waking the consumer",
            stale,
            settings.NOTIFICATIONS_REQUEUE_AFTER_SECONDS,
        )
    return recovered + stale


def due_count():
    """How many queued rows are due now."""
    return Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=timezone.now()).count()


def recover_orphans():
    """At consumer start: release rows held by a consumer on this host that no longer runs."""
    orphans = []
    for pk, holder in Message.objects.filter(
        status=Message.Status.SENDING, claimed_by__startswith=f"{HOST}:"
    ).values_list("pk", "claimed_by"):
        pid = int(holder.rsplit(":", 1)[1])
        if pid != os.getpid() and not _alive(pid):
            orphans.append(pk)
    if orphans:
        Message.objects.filter(pk__in=orphans, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED,
            due_at=timezone.now(),
            claim_token="",
            lease_expires_at=None,
            last_error="requeued: the consumer holding it was gone at start-up",
        )
        logger.warning("outbox %s requeued: their consumer died", ", ".join(map(str, orphans)))
    return len(orphans)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
