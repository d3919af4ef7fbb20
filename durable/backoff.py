"""After a failed attempt: try again (when), or give up.

An error may say when to try again (an API's ``Retry-After``, as ``error.retry_after`` seconds);
otherwise the task's back-off (``durable.options``, exponential by default) decides. A task whose
attempts are used up (``max_attempts``) ends failed.
"""

from datetime import timedelta

from django.utils import timezone


def delay(row, error, opts):
    """Seconds until ``row``'s next attempt after ``error``; None when its attempts are used up."""
    if row.attempts >= row.max_attempts:
        return None
    after = getattr(error, "retry_after", None)
    return float(opts.backoff(row.attempts) if after is None else after)


def due(seconds):
    """The time a retry ``seconds`` from now is due."""
    return timezone.now() + timedelta(seconds=seconds)
