"""Sending rate limits shared by every consumer and worker: EMAIL_RATE_LIMIT and EMAIL_DOMAIN_RATE_LIMITS.

Each limit key ("relay", "domain:gmail.com") is one ``RateLimit`` row holding its
next free slot. Slots are spaced evenly (``30/m`` is one every 2 s), so no
window of any length sees more than the limit. A worker takes a slot inside a
short transaction (row lock on PostgreSQL, the write lock on SQLite), so two
consumers can never take the same one. A slot within ``SLEEP_AT_MOST`` is
waited for in place; a later one sends the message back to the queue until then.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.models import RateLimit

RELAY = "relay"
SLEEP_AT_MOST = 1.0  # seconds a worker waits in place for a slot before it gives the row back
# A throttled row comes back this much before its slot: Huey's scheduler wakes it up to a second
# late (scheduler_interval), and the worker then waits the rest in place, so the slot is not lost.
EARLY = 0.8 * SLEEP_AT_MOST
PERIODS = {"s": 1, "m": 60, "h": 3600}
RATE_FORMS = "N/s, N/m or N/h, e.g. 30/m (empty: no limit)"
DOMAIN_FORMS = "domain=N/s|m|h, comma-separated, e.g. gmail.com=20/m,outlook.com=30/m"
_RATE = re.compile(r"^(\d+)/([smh])$")


class LimitError(ValueError):
    """A rate limit setting that does not parse."""


@dataclass(frozen=True)
class Rate:
    count: int
    period: int  # seconds

    @property
    def interval(self):
        """Seconds between two slots."""
        return self.period / self.count

    def __str__(self):
        return f"{self.count}/{ {1: 's', 60: 'm', 3600: 'h'}[self.period] }"


def parse_rate(text):
    """``"30/m"`` -> ``Rate(30, 60)``; empty -> ``None``; anything else raises ``LimitError``."""
    text = (text or "").strip().replace(" ", "")
    if not text:
        return None
    match = _RATE.match(text)
    if not match or int(match[1]) == 0:
        raise LimitError(f"{text!r} is not a rate")
    return Rate(int(match[1]), PERIODS[match[2]])


def parse_domain_rates(text):
    """``"gmail.com=20/m,outlook.com=30/m"`` -> ``{"gmail.com": Rate(20, 60), ...}``."""
    rates = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        domain, sep, rate = item.partition("=")
        domain = domain.strip().lower()
        if not sep or not domain or "@" in domain or " " in domain or not rate.strip():
            raise LimitError(f"{item!r} is not domain=rate")
        rates[domain] = parse_rate(rate)
    return rates


@dataclass(frozen=True)
class Limits:
    """The limits in force: the relay's and each recipient domain's."""

    relay: Rate | None
    domains: dict

    @property
    def active(self):
        return bool(self.relay or self.domains)

    def claim_size(self, batch_size):
        """Claim no more rows than the relay limit lets one worker send before it would give them back."""
        if self.relay is None:
            return batch_size
        return max(1, min(batch_size, int(SLEEP_AT_MOST / self.relay.interval) + 1))

    def keys(self, recipients):
        """``[(key, rate, words)]`` a message to ``recipients`` needs a slot of: its limited domains, then the relay.

        The relay key is always there while any limit is on, so a relay's "slow down" holds for every message.
        """
        domains = sorted({r.rsplit("@", 1)[-1].lower() for r in recipients} & self.domains.keys())
        keys = [(f"domain:{d}", self.domains[d], f"{d} limit") for d in domains]
        return keys + [(RELAY, self.relay, "relay limit")]


@lru_cache(maxsize=8)
def _parse(relay, domains):
    return Limits(parse_rate(relay), parse_domain_rates(domains))


def configured():
    """The limits from settings (parsed once per distinct value; the system check reports bad ones)."""
    return _parse(settings.EMAIL_RATE_LIMIT, settings.EMAIL_DOMAIN_RATE_LIMITS)


@dataclass
class Slot:
    """A slot taken (at ``at``): wait ``wait`` seconds, then send. Or none within reach: come back at ``free_at``."""

    wait: float = 0.0
    at: object = None
    free_at: object = None
    words: str = ""
    key: str = ""

    @property
    def come_back_at(self):
        """When a row that could not have this slot should be claimed again (and its wake-up run)."""
        return self.free_at - timedelta(seconds=EARLY)


def take(key, rate):
    """Take the next slot of ``key`` if it comes within ``SLEEP_AT_MOST``; else take nothing, say when."""
    interval = timedelta(seconds=rate.interval if rate else 0)
    with transaction.atomic():
        limit = RateLimit.objects.select_for_update().filter(key=key).first()
        if limit is None:  # the key's first use; get_or_create settles a race between two first uses
            RateLimit.objects.get_or_create(key=key, defaults={"next_at": timezone.now()})
            limit = RateLimit.objects.select_for_update().get(key=key)
        now = timezone.now()
        start = max(limit.next_at, now)
        wait = (start - now).total_seconds()
        if wait > SLEEP_AT_MOST:
            return Slot(free_at=start)
        if interval or start != limit.next_at:
            RateLimit.objects.filter(key=key).update(next_at=start + interval)
        return Slot(wait=wait, at=start)


def take_all(keys):
    """A slot under every key in ``keys`` (from ``Limits.keys``), or the first key's time to come back.

    A slot already taken under an earlier key is spent even if a later key says wait: the rate
    can only come out lower than the limit, never higher.
    """
    wait = 0.0
    for key, rate, words in keys:
        slot = take(key, rate)
        if slot.free_at is not None:
            slot.words, slot.key = words, key
            return slot
        wait = max(wait, slot.wait)
    return Slot(wait=wait)


def push_back(key, until):
    """The relay said "slow down": no slot of ``key`` before ``until``."""
    with transaction.atomic():
        if not RateLimit.objects.filter(key=key, next_at__lt=until).update(next_at=until):
            RateLimit.objects.get_or_create(key=key, defaults={"next_at": until})
