import logging

from django.apps import AppConfig
from django.conf import settings


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self):
        from operations import checks  # noqa: F401  (registers the system checks)

        if settings.LOG_FORMAT == "json":
            logging.captureWarnings(True)  # a Python warning is one JSON line too, not raw text on stderr
