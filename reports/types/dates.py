"""Helpers for report types over a range of site-local days."""

from datetime import datetime, time, timedelta

from django.utils import timezone


def days(start, end):
    """Every date from ``start`` to ``end``, inclusive."""
    for n in range((end - start).days + 1):
        yield start + timedelta(days=n)


def bounds(start, end):
    """Aware datetimes [from the start of ``start``, to the start of the day after ``end``) in the site's zone."""
    zone = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, time.min), zone),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone),
    )
