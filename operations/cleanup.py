"""The daily cleanup: delete what is past retention, in small batches (``operations.tasks.daily_cleanup``, once a day)."""

import logging

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from operations import queue_results, registry
from operations.heartbeat import prunable as heartbeat_prunable

logger = logging.getLogger(__name__)
BATCH = 500


def sources(now):
    """Every app's prunable sources, by label: a queryset, or a callable ``f(dry_run=False) -> count``.

    The apps' own come from ``operations.registry`` (each registers in its ``ready()``).
    """
    return {
        **registry.cleanup_sources(now),
        **heartbeat_prunable(now),
        "expired sessions": Session.objects.filter(expire_date__lt=now),
        "unread queue results": queue_results.prune,
    }


def delete_in_batches(queryset, dry_run=False):
    """Delete ``queryset`` ``BATCH`` rows per transaction, so no lock is held for long."""
    if dry_run:
        return queryset.count()
    total = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:BATCH])
            if not ids:
                return total
            total += queryset.model.objects.filter(pk__in=ids).delete()[0]


def run(now=None, dry_run=False):
    """Prune everything past retention; return ``{label: count}``."""
    now = now or timezone.now()
    counts = {
        # A callable (files to delete, say) does its own work; a queryset is deleted in batches.
        label: source(dry_run=dry_run) if callable(source) else delete_in_batches(source, dry_run)
        for label, source in sources(now).items()
    }
    logger.info(
        "cleanup%s: %s", " (dry run)" if dry_run else "", ", ".join(f"{n} {label}" for label, n in counts.items())
    )
    return counts
