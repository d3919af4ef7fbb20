"""Periodic tasks for ``tests/test_durable_periodic.py``: each run appends a line to MEDIA_ROOT/periodic-marks."""

import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from huey import crontab

from durable.compat import task
from durable.periodic import periodic

# The minute of the hour the hourly tasks run at: the restart test picks one half an hour from its own start, so
# the latest slot is past its grace and the next one far, whatever the time it runs at.
HOURLY_MINUTE = os.environ.get("PERIODIC_HOURLY_MINUTE", "0")


def _mark(kind):
    path = Path(settings.MEDIA_ROOT) / "periodic-marks"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(f"{kind} {timezone.now():%H:%M:%S} {os.getpid()}\n")


@periodic(crontab(), missed="once")
@task()
def every_minute():
    _mark("once")


@periodic(crontab(minute=HOURLY_MINUTE), missed="once")
@task()
def hourly():
    _mark("hourly")


@periodic(crontab(minute=HOURLY_MINUTE), missed="skip")
@task()
def hourly_skipping():
    _mark("hourly-skip")
