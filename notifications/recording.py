"""Writing a delivery's outcomes: sent rows in groups, each attempt as a row, through SQLite's busy moments."""

import logging
import os
import time

from django.conf import settings
from django.db import OperationalError, transaction

from durable import sql
from durable.leases import HOST
from notifications import suppression
from notifications.models import Attempt, Message

logger = logging.getLogger(__name__)

LOCKED_TRIES = 5  # a group that was sent is worth waiting for: up to 5 busy timeouts, a pause between


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
        ids = id_span([r.pk for r in rows])
        matched = while_locked(lambda: self._record(rows, attempts), what=f"outbox {ids}")
        self.rows, self.attempts, self.first_at = [], [], None
        self.outcome.sent += len(rows)
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
        with sql.serialized(Message), transaction.atomic():  # the other workers' writes queue in Python
            matched = Message.mark_sent_many(rows)
            Attempt.insert_many(attempts)
        return matched


def record_one(row, attempt, update, refusals=None):
    """Write one row's outcome (``update()``) and its attempt in one transaction, and suppress ``refusals``.

    Returns ``{address: Suppression}`` for what it suppressed (see ``notifications.suppression``).
    """

    def record():
        with sql.serialized(Message), transaction.atomic():
            update()
            attempt.insert()
            return suppression.suppress(refusals, row, attempt.started_at) if refusals else {}

    return while_locked(record, what=f"outbox {row.pk}")


def while_locked(record, what):
    """``record()``, tried again after a short pause while SQLite says "database is locked"."""
    for attempt in range(1, LOCKED_TRIES + 1):
        try:
            return record()
        except OperationalError as exc:
            if not locked(exc) or attempt == LOCKED_TRIES:
                raise
            logger.warning("%s: outcome not yet recorded: %s; trying again (%s/%s)", what, exc, attempt, LOCKED_TRIES)
            time.sleep(0.2 * attempt)


def locked(exc):
    """True when ``exc`` is SQLite's "database is locked" (its busy timeout ran out)."""
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


def id_span(ids):
    """``12-21`` for consecutive ids, else ``12, 14, 15``: every id stays findable in the log."""
    if len(ids) > 1 and ids == list(range(ids[0], ids[0] + len(ids))):
        return f"{ids[0]}-{ids[-1]}"
    return ", ".join(map(str, ids))


def new_attempt(row, recipients, started_at, started, answer):
    """The unsaved ``Attempt`` of one try begun at ``started_at`` (monotonic ``started``); ``answer`` (code, text)."""
    code, reply = answer
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


def log_fields(row, attempt):
    """The structured fields of one attempt's log line (``LOG_FORMAT=json``)."""
    return {
        "outbox_ids": [row.pk],
        "duration": round(attempt.duration, 4),
        "outcome": attempt.outcome,
        "attempt": row.attempts,
        "code": attempt.code,
    }
