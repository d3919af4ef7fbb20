"""System checks: a bad proxy list, rate or cache shows at start-up, not as a 500 on the sign-up page."""

import ipaddress
import re

from django.conf import settings
from django.core.checks import Error, Warning, register

RATE = re.compile(r"^\d+/\d*[smhd]$")
SHARED_CACHES = ("throttle.cache.DatabaseCache", "django.core.cache.backends.redis.RedisCache")


@register()
def check_trusted_proxies(app_configs=None, **kwargs):
    errors = []
    for proxy in settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"TRUSTED_PROXIES has {proxy!r}, which is not an address or network.",
                    hint="e.g. TRUSTED_PROXIES=127.0.0.1 (the nginx in front of gunicorn)",
                    id="throttle.E001",
                )
            )
    return errors


@register()
def check_rates(app_configs=None, **kwargs):
    return [
        Error(
            f"The {group} rate limit for {rule} is {rate!r}, not a rate.",
            hint="N/s, N/m, N/h or N/d, optionally with a count of units (5/15m); empty turns it off.",
            id="throttle.E002",
        )
        for group, rules in settings.RATE_LIMITS.items()
        for rule, rate in rules.items()
        if rate and not RATE.match(rate)
    ]


@register()
def check_cache(app_configs=None, **kwargs):
    backend = settings.CACHES[settings.RATELIMIT_USE_CACHE]["BACKEND"]
    if backend in SHARED_CACHES:
        return []
    return [
        Warning(
            f"Rate limits count in {backend}, which may not be shared by every worker or count atomically.",
            hint="Leave CACHE_URL unset (the database) or set it to redis://...",
            id="throttle.W001",
        )
    ]
