"""A full disk answers 503 with a page that says so, instead of a 500.

When the database cannot write (SQLite "database or disk is full", PostgreSQL's DiskFull),
nothing of the request was committed and nothing committed is lost: the visitor is told to try
again in a few minutes, the response says so to clients (Retry-After), and the log says why.
"""

import logging

from django.db import OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 300
PG_DISK_FULL = "53100"  # SQLSTATE disk_full


def is_disk_full(exc):
    """True for the database's own "cannot write: no space" error."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    return "database or disk is full" in str(exc) or getattr(cause, "sqlstate", None) == PG_DISK_FULL


class DiskFullMiddleware:
    """Turn a write that failed for want of space into 503 "Out of space" (no database needed to render it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_disk_full(exception):
            return None
        logger.error("%s %s: 503, the database cannot write: %s", request.method, request.path, exception)
        response = HttpResponse(render_to_string("operations/disk_full.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
