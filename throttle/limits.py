"""Request rate limits: per client address and per target (an e-mail address, an account).

The counters are django-ratelimit's, kept in the default cache (the database, or Redis when
CACHE_URL names it), so every gunicorn worker and host sees the same counts. Rates live in
``settings.RATE_LIMITS[group][rule]`` ("5/h", "30/10m"; empty turns that rule off).
"""

import ipaddress
import logging
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django_ratelimit.core import get_usage

from throttle.client import NoClientAddress, client_ip, identity, known_client_ip
from throttle.views import no_client_address, too_many

logger = logging.getLogger(__name__)


def posted(field):
    """A key: the POSTed ``field`` as the identity it names (``identity``; ``None`` when empty: the form will say so)."""

    def key(group, request):
        return identity(request.POST.get(field, ""))[:254] or None

    return key


def account(group, request):
    """A key: the signed-in user."""
    return f"user:{request.user.pk}" if request.user.is_authenticated else None


def client(group, request):
    """A key: the client's address (``throttle.client.client_ip``); IPv6 by /64, what one subscriber gets.

    Raises ``NoClientAddress`` rather than count every unknown client in one bucket, where one of them
    would use up the limit for all.
    """
    address = known_client_ip(request)
    if address is None:
        raise NoClientAddress
    return str(ipaddress.ip_network(f"{address}/{64 if address.version == 6 else 32}", strict=False))


@dataclass(frozen=True)
class Hit:
    """A rule over its rate: which, and how long until its window ends."""

    rule: str
    retry_after: int


def check(request, group, keys):
    """Count this request under every rule of ``group``; return the first ``Hit`` over its rate, or ``None``."""
    rates = settings.RATE_LIMITS.get(group, {})
    hit = None
    for rule, key in keys.items():
        rate = rates.get(rule)
        if not rate:
            continue
        value = key(group, request)
        if value is None:
            continue
        usage = get_usage(request, group=f"{group}:{rule}", key=lambda g, r, v=value: v, rate=rate, increment=True)
        if usage and usage["should_limit"] and hit is None:
            hit = Hit(rule, max(usage["time_left"], 1))
    return hit


def limited(group, **keys):
    """Decorator for a view: a POST over any rule of ``group`` is answered 429 (``Retry-After``) unseen by the view.

    ``keys`` name each rule and how to find its value: ``limited("password_reset", client=client,
    address=posted("email"))``.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                try:
                    hit = check(request, group, keys)
                except NoClientAddress:
                    return no_client_address(request, group)
                if hit is not None:
                    logger.warning(
                        "rate limit %s/%s reached by %s: 429 for %s s",
                        group,
                        hit.rule,
                        client_ip(request),
                        hit.retry_after,
                    )
                    return too_many(request, hit.retry_after)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
