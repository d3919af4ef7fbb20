"""The test settings plus an app declaring periodic tasks: for the consumers of ``tests/test_durable_periodic.py``."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.periodic_app"]  # noqa: F405
