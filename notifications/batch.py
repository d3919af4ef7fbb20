"""One claimed batch of outbox rows going out over one connection, each outcome recorded on its row.

Per batch, not per row: one query for suppressed recipients, one look at the relay's pace
(``notifications.pacing``); and, only while a rate limit is configured, one slot per limit key per
row. Rows sent cleanly are recorded in groups (``recording.SentGroup``); any other outcome is
recorded per row, after the group before it. When the batch ends early (its time is up, the
consumer is stopping, or the database failed us) the rows not yet tried go back at once,
uncounted, instead of waiting out their lease.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.utils import timezone

from durable.startup import stopping
from notifications import limits as ratelimits
from notifications import pacing, replies, suppression
from notifications.models import LEASES, Attempt, Message, retry_delay
from notifications.recording import SentGroup, id_span, log_fields, new_attempt, record_one

logger = logging.getLogger(__name__)

_sending = set()  # the batches this process is sending: at exit, what they have not tried goes back
_lock = threading.Lock()  # a row is taken off ``untried`` under it, so the exit never gives back a row on the wire


@dataclass
class Outcome:
    """What one delivery run did, for the task to log and schedule from."""

    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    throttled: int = 0
    retry_at: list = field(default_factory=list)
    wake_at: list = field(default_factory=list)  # rate-limit slots throttled rows wait for
    relay_throttled: bool = False  # the relay limit's next slot is out of reach: stop claiming
    slowed: object = None  # the relay said "slow down": the ``Slot`` the rest of the batch waits for
    more_due: bool = False


class Batch:
    """Claimed rows, the transport they go out on, the suppressions in force, and when to stop."""

    def __init__(self, transport, rows, stop_at, outcome):
        self.transport, self.stop_at, self.outcome = transport, stop_at, outcome
        self.untried = list(rows)  # each row is taken off before it is tried
        self.group = SentGroup(outcome)
        self.suppressed = suppression.in_force(rows)
        self.limits = ratelimits.configured()
        self.pace = pacing.Pace.read()
        self.tick = _nothing  # called after each send: the run keeps its draining marker fresh with it

    def send(self):
        """Send each row and record its outcome; what is left untried when it ends goes back."""
        with _lock:
            _sending.add(self)
        try:
            self._send_rows()
        except Exception:
            _give_back(self.untried)
            raise
        finally:
            with _lock:
                _sending.discard(self)
            self.group.flush()  # also when an exception ends the batch: what was sent is recorded

    def _send_rows(self):
        while self.untried:
            self.group.flush_if_due()
            if time.monotonic() >= self.stop_at or stopping():
                self._stop()
                return
            with _lock:
                if not self.untried:  # given back at exit
                    return
                row = self.untried.pop(0)
            recipients, skipped = suppression.split(row.recipients, self.suppressed)
            if not recipients:
                self.group.flush()
                self.record_suppressed(row, skipped)
                continue
            if not self._wait_for_slot(row, recipients):
                if self.outcome.relay_throttled:
                    return
                continue
            self.send_one(row, recipients, skipped)
            self.tick()
            if self.outcome.slowed is not None:
                Message.throttle(self.untried, self.outcome.slowed.come_back_at, self.outcome.slowed.words)
                self.outcome.throttled += len(self.untried)
                self.untried.clear()
                return

    def _stop(self):
        self.group.flush()
        given = LEASES.release(self.untried)
        self.untried.clear()
        self.outcome.more_due = True
        if stopping():
            logger.info("outbox: stopping; %s claimed rows given back untried", given)

    def _wait_for_slot(self, row, recipients):
        """Wait for the relay's pace and the configured limits' slots; False when ``row`` was given back."""
        slot = self.pace.slot()
        if slot.free_at is None and self.limits.active:
            slot = ratelimits.take_all(self.limits.keys(recipients))
        if slot.free_at is not None:
            self.group.flush()
            if slot.key != ratelimits.RELAY:
                self.throttle([row], slot)
                return False
            self.throttle([row, *self.untried], slot)
            self.untried.clear()
            return False
        if slot.wait:
            self.group.flush()  # do not hold sent rows unrecorded while waiting for a slot
            time.sleep(slot.wait)
        return True

    def send_one(self, row, recipients, skipped):
        """One attempt at one row: send, then record the outcome and the attempt together.

        A clean send (nothing refused, nothing skipped) joins the group, recorded with it;
        anything else first records the group, then itself.
        """
        started_at, started = timezone.now(), time.monotonic()
        try:
            refused = self.transport.send(row, recipients)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
            if replies.connection_lost(exc):
                self.transport.reset()
            attempt = new_attempt(row, recipients, started_at, started, replies.reply_of(exc))
            self.group.flush()
            self.record_failure(row, exc, attempt)
            return
        self.pace.accepted()
        attempt = new_attempt(row, recipients, started_at, started, self.transport.last_reply)
        attempt.outcome = Attempt.Outcome.SENT
        if not refused and not skipped:
            self.group.add(row, attempt)
            return
        self.group.flush()
        self._record_partly_sent(row, attempt, refused, skipped)

    def _record_partly_sent(self, row, attempt, refused, skipped):
        rejected = replies.refused_permanently(refused)
        notes = [f"refused {a}: {c} {replies.text_of(r)}" for a, (c, r) in refused.items()]
        if skipped:
            notes.append("not sent to " + suppression.describe(skipped))
        words = []
        if rejected:
            words.append(f"{len(rejected)} address(es) rejected")
        if skipped:
            words.append(f"{len(skipped)} address(es) suppressed")
        update = partial(row.mark_sent, "; ".join(notes), reason=", ".join(words))
        self.suppressed.update(record_one(row, attempt, update, rejected))
        self.outcome.sent += 1
        logger.info(
            "outbox %s sent in %.3f s (attempt %s)%s",
            row.pk,
            attempt.duration,
            row.attempts,
            f"; {'; '.join(notes)}" if notes else "",
            extra=log_fields(row, attempt),
        )

    def record_suppressed(self, row, skipped):
        """Every recipient is suppressed: end the row ``suppressed``, saying which, since when and why."""
        text = suppression.describe(skipped)
        since = min(s.failed_at for s in skipped)
        row.mark_suppressed(text, reason=f"address suppressed since {timezone.localtime(since):%Y-%m-%d}")
        self.outcome.suppressed += 1
        logger.warning("outbox %s not sent: %s", row.pk, text, extra={"outbox_ids": [row.pk], "outcome": "suppressed"})

    def throttle(self, rows, slot, error=None):
        """Put ``rows`` back until just before ``slot.free_at``, uncounted, with every queued row under that limit.

        Every other queued row under the same limit (all of them for the relay, those with a recipient
        at the domain for a domain) waits for the same slot: one UPDATE per slot, so a backlog is not
        claimed and given back row by row; equal due times keep their order (claim takes them by id).
        """
        until = slot.come_back_at
        Message.throttle(rows, until, slot.words, error=error)
        self.outcome.throttled += len(rows)
        self.outcome.wake_at.append(until)
        same_limit = Message.objects.filter(status=Message.Status.QUEUED, due_at__lt=until)
        if slot.key == ratelimits.RELAY:
            self.outcome.relay_throttled = True
        else:
            # The JSON list holds each address in quotes: '@gmail.com"' ends an address at gmail.com.
            same_limit = same_limit.filter(recipients__icontains=f'@{slot.key.split(":", 1)[1]}"')
        waiting = same_limit.update(due_at=until, reason=slot.words)
        logger.info(
            "%s outbox rows wait for the %s until %s", len(rows) + waiting, slot.words, slot.free_at.isoformat()
        )

    def record_failure(self, row, exc, attempt):
        """Record a failed attempt: failed if permanent, deferred (uncounted) on a relay's "slow down", else a retry.

        Either way, recipients refused with a 5xx are suppressed (and added to the batch's own view, so a
        later row of the same batch skips them too).
        """
        permanent, text = replies.classify(exc)
        rejected = replies.rejected(exc)
        if permanent:
            update = self._failed(row, attempt, text, "address rejected" if rejected else "relay refused it")
            logger.warning("outbox %s failed permanently: %s", row.pk, text, extra=log_fields(row, attempt))
        elif replies.slow_down(exc):
            update = self._deferred(row, attempt, text)
        elif row.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
            update = self._failed(
                row, attempt, f"gave up after {row.attempts} attempts: {text}", f"gave up: {text[:100]}"
            )
            logger.error(
                "outbox %s failed after %s attempts: %s", row.pk, row.attempts, text, extra=log_fields(row, attempt)
            )
        else:
            update = self._retry(row, attempt, text)
        self.suppressed.update(record_one(row, attempt, update, rejected))

    def _failed(self, row, attempt, text, reason):
        attempt.outcome = Attempt.Outcome.FAILED
        self.outcome.failed += 1
        return partial(row.mark_failed, text, reason=reason)

    def _deferred(self, row, attempt, text):
        # The relay's own limit, not this message's fault: the row goes back untried, and no message
        # goes before the pause the relay's pace sets (one pace for every consumer).
        free_at = self.pace.refused()
        slot = ratelimits.Slot(free_at=free_at, words=replies.SLOWED_DOWN, key=ratelimits.RELAY)
        attempt.outcome = Attempt.Outcome.DEFERRED
        self.outcome.slowed = slot
        logger.warning(
            "outbox %s deferred: the relay asked to slow down (%s); nothing goes before %s",
            row.pk,
            text,
            free_at.isoformat(),
            extra=log_fields(row, attempt),
        )
        return partial(self.throttle, [row], slot, error=text)

    def _retry(self, row, attempt, text):
        delay = retry_delay(row.attempts)
        due = timezone.now() + delay
        attempt.outcome = Attempt.Outcome.RETRY
        self.outcome.retry_at.append(due)
        logger.warning(
            "outbox %s retry %s/%s in %.0f s: %s",
            row.pk,
            row.attempts,
            settings.NOTIFICATIONS_MAX_ATTEMPTS,
            delay.total_seconds(),
            text,
            extra=log_fields(row, attempt),
        )
        return partial(row.mark_retry, text, due)


def _nothing():
    pass


def give_back_untried():
    """At exit (``durable.lifeline``): the rows of batches cut off by the shutdown timeout that were not yet handed to
    the relay go back, uncounted. The row on the wire, and rows sent but not yet recorded, stay ``sending``: they
    may have gone, so the next start on this host takes them back (docs/architecture.md)."""
    with _lock:
        rows = [row for batch in _sending for row in batch.untried]
        for batch in _sending:
            batch.untried.clear()
    try:
        given = LEASES.release(rows)
    except Exception:  # noqa: BLE001 - exiting anyway: the next start on this host takes them back
        logger.exception("outbox %s could not be given back at exit", id_span([r.pk for r in rows]))
        return
    if given:
        logger.warning("outbox %s: %s claimed and not tried, given back at exit", id_span([r.pk for r in rows]), given)


def _give_back(rows):
    if not rows:
        return
    try:
        LEASES.release(rows)
        logger.warning("outbox %s given back untried after an error", id_span([r.pk for r in rows]))
    except Exception:  # noqa: BLE001 - the database is still failing: the leases lapse and the sweeper takes them
        logger.exception("outbox %s could not be given back; the sweeper will", id_span([r.pk for r in rows]))
        LEASES.forget(rows)
