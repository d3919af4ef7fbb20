"""The test settings plus ``tests.report_app`` (a report type at a set pace): for the consumers of report tests."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.report_app"]  # noqa: F405
