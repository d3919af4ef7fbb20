"""System checks of the webhooks settings."""

import ipaddress

from django.conf import settings
from django.core import checks

from durable.options import parse_rate


@checks.register()
def check_settings(app_configs=None, **kwargs):
    errors = []
    for network in settings.WEBHOOKS_ALLOWED_NETWORKS:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            errors.append(
                checks.Error(
                    f"WEBHOOKS_ALLOWED_NETWORKS: {network!r} is not a network",
                    hint="Give addresses or CIDR networks, comma-separated: 10.0.5.0/24,192.168.1.7",
                    id="webhooks.E001",
                )
            )
    if (
        settings.WEBHOOKS_PAUSE_AFTER < 1
        or settings.WEBHOOKS_CONNECT_TIMEOUT <= 0
        or settings.WEBHOOKS_READ_TIMEOUT <= 0
    ):
        errors.append(
            checks.Error(
                "WEBHOOKS_PAUSE_AFTER must be 1 or more and the webhook timeouts above 0",
                hint="See .env.example (defaults: 10 failures, 5 s to connect, 15 s to read).",
                id="webhooks.E002",
            )
        )
    if settings.WEBHOOKS_RATE_PER_HOST:
        try:
            parse_rate(settings.WEBHOOKS_RATE_PER_HOST)
        except ValueError as exc:
            errors.append(
                checks.Error(
                    f"WEBHOOKS_RATE_PER_HOST: {exc}",
                    hint="Deliveries started per host: 10/s, 100/m, 5/10s; empty for no limit.",
                    id="webhooks.E003",
                )
            )
    return errors
