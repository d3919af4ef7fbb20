"""The relay's pace, learned from its answers: how long to pause when it says "slow down".

Relays limit a sender per window of time (Postfix's anvil: N messages per ``anvil_rate_time_unit``
per client; Gmail and SES per second, hour or day). Backing off exponentially at each "slow down"
waits far longer than the window; what the relay accepts is learned from its answers instead:

- The relay takes messages at full speed until it refuses one: that opens a pause. The window it
  refuses in started at the first message it took after the previous pause (``window_started_at``).
- The first pause lasts until that window's learned end (``window_seconds`` after its start).
  Unknown yet, or passed: a short probe (``STEP``). Each refusal in a row after that lengthens
  the next probe by one ``STEP`` (additive, not doubling), so the window's end is found within
  a step or two.
- The first message taken after a pause ends the window: its length is learned. When the learned
  pause worked at the first try, the next one is tried a little shorter (``SHRINK``), so a relay
  that allows more again is found out (the pace probes upward slowly).

One row (``RelayPace``) holds it for every consumer and worker; a batch reads it once. Refusals of
rows already on the wire when the pause began do not count. A "slow down" is never a failed
attempt: the row goes back queued, uncounted (``notifications.batch``).
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications import limits as ratelimits
from notifications.models import Attempt, RelayPace

logger = logging.getLogger(__name__)

KEY = "relay"
STEP = 1.0  # seconds: a probe after a refusal whose window end is not known; one more per refusal in a row
SHRINK = 0.9  # a learned pause that worked at its first try is tried this much shorter next time
CACHE_SECONDS = 1.0


class Pace:
    """The pace as one batch read it; ``slot()`` before each send, ``accepted()`` / ``refused()`` after."""

    def __init__(self, row):
        self.row = row
        self.learned = False

    _cached = (None, -1.0)  # (row, monotonic time read): a pickup should not wait for this query

    @classmethod
    def read(cls):
        """The pace in force: one primary-key query, at most once a second per process while no pause is on.

        A pause another consumer began less than a second ago may go unseen here: the messages this
        worker sends meanwhile are refused and wait out the same pause, uncounted (``refuse``).
        """
        row, read_at = cls._cached
        calm = row is None or (row.refused_at is None and (row.paused_until or timezone.now()) <= timezone.now())
        if not calm or time.monotonic() - read_at >= CACHE_SECONDS:
            row = RelayPace.objects.filter(key=KEY).first()
            cls._cached = (row, time.monotonic())
        return cls(row)

    def slot(self):
        """A ``limits.Slot``: send now, wait a little in place, or come back when the relay's pause ends."""
        until = self.row.paused_until if self.row is not None else None
        if until is None:
            return ratelimits.Slot()
        wait = (until - timezone.now()).total_seconds()
        if wait <= 0:
            return ratelimits.Slot()
        if wait <= ratelimits.SLEEP_AT_MOST:
            return ratelimits.Slot(wait=wait)
        return ratelimits.Slot(free_at=until, words="relay asked to slow down", key=ratelimits.RELAY)

    def accepted(self):
        """The relay took a message: if it had refused one, its window ended now; learn how long it was."""
        if self.learned or self.row is None or self.row.refused_at is None:
            return
        self.learned = True
        learn(self.row.refused_at, timezone.now())
        Pace._cached = (None, -1.0)

    def refused(self):
        """The relay said "slow down": return when to try again (also pushed to the relay's rate-limit slot)."""
        until = refuse(timezone.now())
        Pace._cached = (None, -1.0)  # this process reads the new pause at its next batch
        ratelimits.push_back(ratelimits.RELAY, until)
        return until


def _row():
    RelayPace.objects.get_or_create(key=KEY)
    return RelayPace.objects.select_for_update().get(key=KEY)


def refuse(now):
    """Record a refusal at ``now`` and return the end of the pause it sets (see the module's docstring)."""
    longest = timedelta(seconds=settings.NOTIFICATIONS_RETRY_MAX_SECONDS)
    with transaction.atomic():
        pace = _row()
        if pace.paused_until is not None and now < pace.paused_until:
            return pace.paused_until  # sent before the pause began: it says nothing new
        if pace.refused_at is None:
            pace.refused_at, pace.refusals = now, 1
            if pace.window_started_at is None:
                pace.window_started_at = _first_taken_since_last_pause(now)
            end = pace.window_started_at + timedelta(seconds=pace.window_seconds)
            until = end if pace.window_seconds and end > now else now + timedelta(seconds=STEP)
        else:
            pace.refusals += 1
            until = now + timedelta(seconds=STEP * (pace.refusals - 1))
        pace.paused_until = min(until, now + longest)
        pace.save()
    logger.info(
        "relay pace: refusal %s in a row; pausing %.1f s (learned window %.1f s)",
        pace.refusals,
        (pace.paused_until - now).total_seconds(),
        pace.window_seconds,
    )
    return pace.paused_until


def learn(refused_at, now):
    """The first message taken after the pause that began at ``refused_at``: a new window starts at ``now``."""
    with transaction.atomic():
        pace = RelayPace.objects.select_for_update().filter(key=KEY, refused_at=refused_at).first()
        if pace is None:
            return  # another worker learnt it first
        if pace.window_started_at is not None:
            seen = (now - pace.window_started_at).total_seconds()
            worked_at_once = pace.refusals == 1 and pace.window_seconds
            pace.window_seconds = seen * SHRINK if worked_at_once else seen
        pace.window_started_at, pace.refused_at, pace.refusals = now, None, 0
        pace.save()
    logger.info("relay pace: taking messages again; window %.1f s", pace.window_seconds)


def _first_taken_since_last_pause(now):
    """When the window the relay refuses in began: its first message taken since the last deferral (an hour at most)."""
    since = now - timedelta(hours=1)
    last = Attempt.objects.filter(outcome=Attempt.Outcome.DEFERRED, started_at__gte=since).order_by("-started_at")
    last = last.values_list("started_at", flat=True).first()
    taken = Attempt.objects.filter(outcome=Attempt.Outcome.SENT, started_at__gte=last or since)
    return taken.order_by("started_at").values_list("started_at", flat=True).first() or now
