"""Claim due outbox rows, send them over one connection, record each outcome.

Huey only carries wake-ups: any delivery task drains whatever is due, so lost
or duplicate tasks cost nothing, and a lost consumer is recovered from the
rows alone (lease expiry, see ``sweep``).
"""

import logging
import math
import os
import smtplib
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import OperationalError, connections, router, transaction
from django.utils import timezone

from durable.leases import HOST, worker_id  # noqa: F401 - worker_id: who holds a claimed row
from durable.startup import stopping
from notifications import limits as ratelimits
from notifications import suppression
from notifications.models import LEASES, Attempt, Message, retry_delay
from notifications.transport import Transport

logger = logging.getLogger(__name__)


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


def claim(ids=(), limit=None):
    """Take up to ``limit`` due rows for this worker (``ids`` alone first, if still due; else by priority).

    The claim is the lease mechanism's (``durable.leases``): one conditional UPDATE, committed
    before anything is sent, so two consumers never hold the same row. A read comes first: on
    SQLite an UPDATE that finds nothing still takes the write lock, and most wake-ups of a drain
    find their rows already taken.
    """
    limit = limit or settings.NOTIFICATIONS_BATCH_SIZE
    due = Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=timezone.now())
    mine = list(ids)[:limit]
    if mine and due.filter(id__in=mine).exists():
        rows = LEASES.claim(limit=len(mine), where=lambda queryset: queryset.filter(id__in=mine))
        if rows:
            return rows
    if not in_claim_order(due).exists():
        return []
    return LEASES.claim(limit=limit, where=_in_claim_order_filter)


def in_claim_order(queryset):
    """``queryset`` (queued rows) ordered as the claim takes them, priority then due time, read off ``outbox_due``.

    SQLite, without the statistics ANALYZE would gather (Django never runs it), seeks the partial index
    only when its first column is constrained: with ``priority IN (...)`` it reads outbox_due in order;
    without, it picks outbox_finished and sorts every queued row in a temporary B-tree (the plan before
    priorities did too). PostgreSQL reads outbox_due in order as it is, and would sort with the IN list.
    tests/test_priority.py checks both plans.
    """
    return _in_claim_order_filter(queryset).order_by(*LEASES.order_by)


def _in_claim_order_filter(queryset):
    if connections[router.db_for_read(Message)].vendor == "sqlite":
        queryset = queryset.filter(priority__in=sorted(Message.Priority.values))
    return queryset


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


class SentGroup:
    """Rows of one batch sent with nothing refused or skipped, waiting to be recorded together.

    One transaction per group: one UPDATE of the rows (fenced on the batch's lease token) and one
    INSERT of their attempts. A group is recorded when it holds ``NOTIFICATIONS_RECORD_EVERY``
    rows or ``MAX_AGE`` seconds after its first send, and always before any other outcome is
    recorded, before rows are given back, and when the batch ends. The price: after a kill -9,
    up to a group's worth of e-mails per worker were sent but not recorded, and go again.
    """

    MAX_AGE = 0.05

    def __init__(self, outcome):
        self.outcome = outcome
        self.size = max(settings.NOTIFICATIONS_RECORD_EVERY, 1)
        self.rows, self.attempts = [], []
        self.first_at = None

    def add(self, row, attempt):
        if self.rows and row.lease_token != self.rows[0].lease_token:
            self.flush()  # one UPDATE holds one lease token; a batch has one, so this is a safeguard
        if not self.rows:
            self.first_at = time.monotonic()
        self.rows.append(row)
        self.attempts.append(attempt)
        self.flush_if_due()

    def flush_if_due(self):
        if self.rows and (len(self.rows) >= self.size or time.monotonic() - self.first_at >= self.MAX_AGE):
            self.flush()

    def flush(self):
        if not self.rows:
            return
        rows, attempts = self.rows, self.attempts
        began = self.first_at - attempts[0].duration  # when the group's first send started
        matched = _while_locked(partial(self._record, rows, attempts), what=f"outbox {_id_span([r.pk for r in rows])}")
        self.rows, self.attempts, self.first_at = [], [], None
        self.outcome.sent += len(rows)
        ids = _id_span([r.pk for r in rows])
        elapsed = time.monotonic() - began
        logger.info(
            "outbox %s sent (%s) in %.3f s",
            ids,
            len(rows),
            elapsed,
            extra={"outbox_ids": [r.pk for r in rows], "duration": round(elapsed, 4), "outcome": "sent"},
        )
        if logger.isEnabledFor(logging.DEBUG):
            for row, attempt in zip(rows, attempts, strict=True):
                logger.debug("outbox %s sent in %.3f s (attempt %s)", row.pk, attempt.duration, row.attempts)
        if matched < len(rows):
            logger.warning(
                "outbox %s: %s of %s sent rows were no longer held (lease lost); their newer outcome stands",
                ids,
                len(rows) - matched,
                len(rows),
            )

    @staticmethod
    def _record(rows, attempts):
        with transaction.atomic():
            matched = Message.mark_sent_many(rows)
            Attempt.insert_many(attempts)
        return matched


LOCKED_TRIES = 5  # a group that was sent is worth waiting for: up to 5 busy timeouts, a pause between


def _while_locked(record, what):
    """``record()``, tried again after a short pause while SQLite says "database is locked"."""
    for attempt in range(1, LOCKED_TRIES + 1):
        try:
            return record()
        except OperationalError as exc:
            if not _locked(exc) or attempt == LOCKED_TRIES:
                raise
            logger.warning("%s: outcome not yet recorded: %s; trying again (%s/%s)", what, exc, attempt, LOCKED_TRIES)
            time.sleep(0.2 * attempt)


def _locked(exc):
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


def _id_span(ids):
    """``12-21`` for consecutive ids, else ``12, 14, 15``: every id stays findable in the log."""
    if len(ids) > 1 and ids == list(range(ids[0], ids[0] + len(ids))):
        return f"{ids[0]}-{ids[-1]}"
    return ", ".join(map(str, ids))


def send_batch(transport, batch, stop_at, outcome):
    """Send each claimed row and record its outcome on the row (and an ``Attempt``).

    Per batch, not per row: one query for suppressed recipients; and, only while a rate limit
    is configured, one slot per limit key per row. Rows sent cleanly are recorded in groups
    (``SentGroup``); any other outcome is recorded per row, after the group before it. When the
    batch ends early (its time is up, the consumer is stopping, or the database failed us) the
    rows not yet tried go back at once, uncounted, instead of waiting out their lease.
    """
    group = SentGroup(outcome)
    untried = list(batch)  # _send_rows takes each row off before trying it
    try:
        _send_rows(transport, untried, stop_at, outcome, group)
    except Exception:
        _give_back(untried)
        raise
    finally:
        group.flush()  # also when an exception ends the batch: what was sent is recorded


def _give_back(rows):
    if not rows:
        return
    try:
        given = LEASES.release(rows)
        logger.warning("outbox %s given back untried after an error", _id_span([r.pk for r in rows]))
        return given
    except Exception:  # noqa: BLE001 - the database is still failing: the leases lapse and the sweeper takes them
        logger.exception("outbox %s could not be given back; the sweeper will", _id_span([r.pk for r in rows]))
        LEASES.forget(rows)


def _send_rows(transport, untried, stop_at, outcome, group):
    limits = ratelimits.configured()
    suppressed = suppression.in_force(untried)
    while untried:
        row = untried[0]
        group.flush_if_due()
        if time.monotonic() >= stop_at or stopping():
            group.flush()
            given = LEASES.release(untried)
            untried.clear()
            outcome.more_due = True
            if stopping():
                logger.info("outbox: stopping; %s claimed rows given back untried", given)
            return
        del untried[0]
        recipients, skipped = suppression.split(row.recipients, suppressed)
        if not recipients:
            group.flush()
            record_suppressed(row, skipped, outcome)
            continue
        if limits.active:
            slot = ratelimits.take_all(limits.keys(recipients))
            if slot.free_at is not None:
                group.flush()
                if slot.key != ratelimits.RELAY:
                    throttle([row], slot, outcome)
                    continue
                throttle([row, *untried], slot, outcome)
                untried.clear()
                return
            if slot.wait:
                group.flush()  # do not hold sent rows unrecorded while waiting for a slot
                time.sleep(slot.wait)
        send_one(transport, row, recipients, skipped, outcome, suppressed, group)
        if outcome.slowed is not None:
            Message.throttle(untried, outcome.slowed.come_back_at, outcome.slowed.words)
            outcome.throttled += len(untried)
            untried.clear()
            return


def send_one(transport, row, recipients, skipped, outcome, suppressed=None, group=None):
    """One attempt at one row: send, then record the outcome and the attempt together.

    With ``group``, a clean send (nothing refused, nothing skipped) joins the group, recorded
    with it; anything else first records the group, then itself.
    """
    started_at, started = timezone.now(), time.monotonic()
    try:
        refused = transport.send(row, recipients)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        if _connection_lost(exc):
            transport.reset()
        attempt = _attempt(row, recipients, started_at, started, *_reply_of(exc))
        if group is not None:
            group.flush()
        record_failure(row, exc, outcome, attempt, suppressed)
        return
    attempt = _attempt(row, recipients, started_at, started, *transport.last_reply)
    attempt.outcome = Attempt.Outcome.SENT
    if group is not None and not refused and not skipped:
        group.add(row, attempt)
        return
    if group is not None:
        group.flush()
    rejected = {a: f"{c} {_reply(r)}" for a, (c, r) in refused.items() if 500 <= c < 600}
    notes = [f"refused {a}: {c} {_reply(r)}" for a, (c, r) in refused.items()]
    if skipped:
        notes.append("not sent to " + suppression.describe(skipped))
    words = []
    if rejected:
        words.append(f"{len(rejected)} address(es) rejected")
    if skipped:
        words.append(f"{len(skipped)} address(es) suppressed")

    def record():
        with transaction.atomic():
            row.mark_sent("; ".join(notes), reason=", ".join(words))
            attempt.insert()
            return suppression.suppress(rejected, row, started_at) if rejected else {}

    added = _while_locked(record, what=f"outbox {row.pk}")
    if rejected and suppressed is not None:
        suppressed.update(added)
    outcome.sent += 1
    logger.info(
        "outbox %s sent in %.3f s (attempt %s)%s",
        row.pk,
        attempt.duration,
        row.attempts,
        f"; {'; '.join(notes)}" if notes else "",
        extra=_fields(row, attempt),
    )


def _attempt(row, recipients, started_at, started, code, reply):
    return Attempt(
        message_id=row.pk,
        started_at=started_at,
        duration=time.monotonic() - started,
        code=code,
        reply=reply[:2000],
        recipients=list(recipients),
        host=HOST,
        pid=os.getpid(),
    )


def record_suppressed(row, skipped, outcome):
    """Every recipient is suppressed: end the row ``suppressed``, saying which, since when and why."""
    text = suppression.describe(skipped)
    since = min(s.failed_at for s in skipped)
    row.mark_suppressed(text, reason=f"address suppressed since {timezone.localtime(since):%Y-%m-%d}")
    outcome.suppressed += 1
    logger.warning("outbox %s not sent: %s", row.pk, text, extra={"outbox_ids": [row.pk], "outcome": "suppressed"})


def throttle(rows, slot, outcome, error=None):
    """Put ``rows`` back until just before ``slot.free_at``, uncounted; True when the whole relay is throttled.

    Every other queued row under the same limit (all of them for the relay, those with a recipient
    at the domain for a domain) waits for the same slot: one UPDATE per slot, so a backlog is not
    claimed and given back row by row; equal due times keep their order (claim takes them by id).
    The outbox shows them all as waiting.
    """
    until = slot.come_back_at
    Message.throttle(rows, until, slot.words, error=error)
    outcome.throttled += len(rows)
    outcome.wake_at.append(until)
    same_limit = Message.objects.filter(status=Message.Status.QUEUED, due_at__lt=until)
    if slot.key == ratelimits.RELAY:
        outcome.relay_throttled = True
    else:
        # The JSON list holds each address in quotes: '@gmail.com"' ends an address at gmail.com.
        same_limit = same_limit.filter(recipients__icontains=f'@{slot.key.split(":", 1)[1]}"')
    waiting = same_limit.update(due_at=until, reason=slot.words)
    logger.info("%s outbox rows wait for the %s until %s", len(rows) + waiting, slot.words, slot.free_at.isoformat())
    return outcome.relay_throttled


def record_failure(row, exc, outcome, attempt, suppressed=None):
    """Record a failed attempt: failed if permanent, deferred (uncounted) on a relay's "slow down", else a retry.

    Either way, recipients refused with a 5xx are suppressed (and added to ``suppressed``, the
    batch's own view, so a later row of the same batch skips them too).
    """
    permanent, text = classify(exc)
    rejected = _rejected(exc)
    if permanent:
        attempt.outcome = Attempt.Outcome.FAILED
        update = partial(row.mark_failed, text, reason="address rejected" if rejected else "relay refused it")
        outcome.failed += 1
        logger.warning("outbox %s failed permanently: %s", row.pk, text, extra=_fields(row, attempt))
    elif _slow_down(exc):
        # The relay's own limit, not this message's fault: the row goes back untried, and no
        # message goes before the pause (one relay slot for every consumer).
        slot = ratelimits.Slot(free_at=timezone.now() + slow_down_pause(), words=SLOWED_DOWN, key=ratelimits.RELAY)
        ratelimits.push_back(ratelimits.RELAY, slot.free_at)
        attempt.outcome = Attempt.Outcome.DEFERRED
        update = partial(throttle, [row], slot, outcome, error=text)
        outcome.slowed = slot
        logger.warning(
            "outbox %s deferred: the relay asked to slow down (%s); nothing goes before %s",
            row.pk,
            text,
            slot.free_at.isoformat(),
            extra=_fields(row, attempt),
        )
    elif row.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        attempt.outcome = Attempt.Outcome.FAILED
        update = partial(row.mark_failed, f"gave up after {row.attempts} attempts: {text}", f"gave up: {text[:100]}")
        outcome.failed += 1
        logger.error("outbox %s failed after %s attempts: %s", row.pk, row.attempts, text, extra=_fields(row, attempt))
    else:
        delay = retry_delay(row.attempts)
        due = timezone.now() + delay
        attempt.outcome = Attempt.Outcome.RETRY
        update = partial(row.mark_retry, text, due)
        outcome.retry_at.append(due)
        logger.warning(
            "outbox %s retry %s/%s in %.0f s: %s",
            row.pk,
            row.attempts,
            settings.NOTIFICATIONS_MAX_ATTEMPTS,
            delay.total_seconds(),
            text,
            extra=_fields(row, attempt),
        )

    def record():
        with transaction.atomic():
            update()
            attempt.insert()
            return suppression.suppress(rejected, row, attempt.started_at) if rejected else {}

    added = _while_locked(record, what=f"outbox {row.pk} tried")
    if rejected and suppressed is not None:
        suppressed.update(added)


def _fields(row, attempt):
    """The structured fields of one attempt's log line (``LOG_FORMAT=json``)."""
    return {
        "outbox_ids": [row.pk],
        "duration": round(attempt.duration, 4),
        "outcome": attempt.outcome,
        "attempt": row.attempts,
        "code": attempt.code,
    }


def _rejected(exc):
    """``{address: reply}`` of recipients refused permanently (5xx at RCPT TO)."""
    if not isinstance(exc, smtplib.SMTPRecipientsRefused):
        return {}
    return {a: f"{c} {_reply(r)}" for a, (c, r) in exc.recipients.items() if 500 <= c < 600}


def _reply_of(exc):
    """``(code, text)`` for the attempt row: the relay's code where it gave one."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        return next(iter(exc.recipients.values()))[0], classify(exc)[1]
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, _reply(exc.smtp_error)
    return None, classify(exc)[1]


SLOWED_DOWN = "relay asked to slow down"
# What relays say when they throttle a sender (lower case), beyond 421/451 with an enhanced code 4.7.x:
# Postfix anvil "450 4.7.1 Error: too much mail from ...", Exchange/Office 365 "451 4.7.500 Server busy",
# Gmail "421 4.7.28 ... rate limited" / "450 4.7.28", SES "454 Throttling failure: Maximum sending rate exceeded".
_SLOW_DOWN_WORDS = ("too many", "too much mail", "rate limit", "rate-limit", "throttl", "server busy", "sending rate")


def _slow_down(exc):
    """True for a relay's "slow down": a 4xx answer that says the sender goes too fast."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
    elif isinstance(exc, smtplib.SMTPResponseException):
        replies = [(exc.smtp_code, exc.smtp_error)]
    else:
        return False
    for code, resp in replies:
        text = _reply(resp).lower()
        if not 400 <= code < 500:
            continue
        if (code in (421, 451) and text.startswith("4.7.")) or any(w in text for w in _SLOW_DOWN_WORDS):
            return True
    return False


def slow_down_pause():
    """How long the relay gets after a "slow down": the retry back-off, doubling per slow-down in a row.

    "In a row" is read from the attempt rows: deferrals since the last message the relay took, so every
    consumer paces itself from the same record, and one accepted message brings the pause back down.
    """
    last_sent = Attempt.objects.filter(outcome=Attempt.Outcome.SENT).order_by("-started_at").first()
    deferred = Attempt.objects.filter(outcome=Attempt.Outcome.DEFERRED)
    if last_sent is not None:
        deferred = deferred.filter(started_at__gt=last_sent.started_at)
    return retry_delay(deferred.count() + 1)


LOCKED_PAUSE = 1  # seconds: after SQLite's busy timeout ran out, let the writers through before trying again


def deliver(ids=(), transport_factory=Transport):
    """Send ``ids`` and then anything else due, over one connection, until nothing is due.

    The monitor thread renews the leases it holds (``durable.monitor``), so a run goes on until nothing is due
    and a batch is bounded by its size, not by a lease. A database that stays
    locked past its busy timeout ends the run, not the task: what was not tried goes back at once
    and the run is scheduled again a second later (``retry_at``).
    """
    outcome = Outcome()
    stop_at = math.inf  # no deadline: the rows' leases are renewed while held
    limit = ratelimits.configured().claim_size(settings.NOTIFICATIONS_BATCH_SIZE)
    transport = None
    try:
        while not outcome.relay_throttled and not stopping():
            batch = claim(ids, limit=limit)
            ids = ()
            if not batch:
                break
            transport = transport or transport_factory()
            send_batch(transport, batch, stop_at, outcome)
    except OperationalError as exc:
        if not _locked(exc):
            raise
        # The rows not yet tried went back (send_batch); the work goes on after a short pause, in a new task.
        logger.warning("outbox: the database stayed locked (%s); delivery goes on in %s s", exc, LOCKED_PAUSE)
        outcome.retry_at.append(timezone.now() + timedelta(seconds=LOCKED_PAUSE))
    finally:
        if transport is not None:
            transport.close()
    return outcome
