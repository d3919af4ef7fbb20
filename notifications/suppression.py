"""The suppression list: addresses the relay rejected permanently are not tried again until lifted."""

import logging

from django.db.models import Q
from django.utils import timezone

from notifications.models import Suppression

logger = logging.getLogger(__name__)


class NotSuppressed(LookupError):
    """Lifting an address that is not (or no longer) suppressed."""


def in_force(rows):
    """``{address: Suppression}`` for every suppressed recipient of ``rows``: one query per batch."""
    addresses = {a.lower() for row in rows for a in row.recipients}
    if not addresses:
        return {}
    return {s.address: s for s in Suppression.objects.filter(address__in=addresses, lifted_at=None)}


def split(recipients, suppressed):
    """``(to_try, skipped)``: the recipients still to try, and the suppressions that skip the others."""
    to_try, skipped = [], []
    for address in recipients:
        entry = suppressed.get(address.lower())
        if entry is None:
            to_try.append(address)
        else:
            skipped.append(entry)
    return to_try, skipped


def describe(skipped):
    """One line a reader understands: which address, since when, and why."""
    return "; ".join(f"{s.address} suppressed since {s.failed_at:%Y-%m-%d}: {s.reason}" for s in skipped)


def suppress(refusals, message, failed_at=None):
    """Suppress each address of ``refusals`` (``{address: reason}``) for what ``message`` met.

    Returns ``{address: Suppression}`` for what it suppressed.
    """
    failed_at = failed_at or timezone.now()
    added = {}
    for address, reason in refusals.items():
        added[address.lower()], _ = Suppression.objects.update_or_create(
            address=address.lower(),
            defaults={"reason": reason[:2000], "failed_at": failed_at, "message": message, "lifted_at": None},
        )
        logger.warning("address %s suppressed after outbox %s: %s", address.lower(), message.pk, reason)
    return added


def lift(address):
    """Lift the suppression of ``address``; raise ``NotSuppressed`` with a clear message if there is none."""
    address = address.strip().lower()
    entry = Suppression.objects.filter(address=address).first()
    if entry is None:
        raise NotSuppressed(f"{address} is not on the suppression list")
    if entry.lifted_at is not None:
        raise NotSuppressed(f"{address} was already lifted on {timezone.localtime(entry.lifted_at):%Y-%m-%d %H:%M}")
    n = Suppression.objects.filter(Q(pk=entry.pk), lifted_at=None).update(lifted_at=timezone.now())
    if not n:
        raise NotSuppressed(f"{address} was lifted just now by someone else")
    logger.info("suppression of %s lifted", address)
    return entry
