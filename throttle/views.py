"""The answer to a client that asked too often: a page that says when to come back, and 429."""

import logging
import math

from django.http import HttpResponseBadRequest
from django.shortcuts import render

from throttle.client import client_ip

logger = logging.getLogger(__name__)


def too_many(request, retry_after, reason=""):
    """429 with ``Retry-After`` (seconds) and a page saying, in minutes, when to try again."""
    retry_after = max(int(retry_after), 1)
    context = {"minutes": math.ceil(retry_after / 60), "reason": reason}
    response = render(request, "throttle/too_many.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def no_client_address(request, group):
    """400 for a counted POST whose client address is unknown: a configuration error, said in the log."""
    logger.error(
        "%s: no client address (REMOTE_ADDR is empty), refused with 400 instead of counting every such client"
        " in one bucket. Serve the site over TCP (gunicorn --bind 127.0.0.1:8000) and name the proxy in"
        " TRUSTED_PROXIES; see docs/operations.md.",
        group,
    )
    return HttpResponseBadRequest(
        "The server could not tell the client address of this request; its operators were told.",
        content_type="text/plain; charset=utf-8",
    )


def locked_out(request, original_response=None, credentials=None):
    """django-axes' AXES_LOCKOUT_CALLABLE: the same page, for too many failed log-ins."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(request)
    seconds = cool_off.total_seconds() if cool_off else 3600
    logger.warning("log-in locked for %s s: too many failed attempts from %s", int(seconds), client_ip(request))
    return too_many(request, seconds, reason="Too many failed log-ins for this account from your address.")
