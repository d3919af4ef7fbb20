"""Periodic tasks for ``tests/test_durable_periodic.py``: each run appends a line to MEDIA_ROOT/periodic-marks."""

import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from huey import crontab

from durable.compat import task
from durable.periodic import periodic


def _mark(kind):
    path = Path(settings.MEDIA_ROOT) / "periodic-marks"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(f"{kind} {timezone.now():%H:%M:%S} {os.getpid()}\n")


@periodic(crontab(), missed="once")
@task()
def every_minute():
    _mark("once")


@periodic(crontab(minute="0"), missed="once")
@task()
def hourly():
    _mark("hourly")


@periodic(crontab(minute="0"), missed="skip")
@task()
def hourly_skipping():
    _mark("hourly-skip")
