"""System checks: a malformed rate limit stops start-up with one line naming the setting."""

from django.conf import settings
from django.core import checks

from notifications.limits import DOMAIN_FORMS, RATE_FORMS, LimitError, parse_domain_rates, parse_rate


@checks.register(checks.Tags.compatibility)
def check_rate_limits(app_configs, **kwargs):
    errors = []
    for setting, parse, forms, id in (
        ("EMAIL_RATE_LIMIT", parse_rate, RATE_FORMS, "notifications.E001"),
        ("EMAIL_DOMAIN_RATE_LIMITS", parse_domain_rates, DOMAIN_FORMS, "notifications.E002"),
    ):
        try:
            parse(getattr(settings, setting))
        except LimitError as exc:
            errors.append(checks.Error(f"{setting}: {exc}; expected {forms}", id=id))
    return errors
