"""Logging filters named in settings.LOGGING (imported before the apps are ready: no models here)."""

import logging


class SkipHealthFailures(logging.Filter):
    """Drop ``/health/``'s own 503s from ``django.request``: a load balancer polls it every second or so.

    ``operations.health`` logs (and mails the admins) once when the status changes instead.
    """

    def filter(self, record):
        match = getattr(getattr(record, "request", None), "resolver_match", None)
        return not (getattr(record, "status_code", None) == 503 and match and match.view_name == "operations:health")
