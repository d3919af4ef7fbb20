"""The baseline: Huey alone, stock storage and default polling, one task per e-mail.

Each task opens its own SMTP connection, as a plain ``@task def send(...)`` does.
The consumer runs it as ``huey_consumer benchmarks.plain_huey.huey``; where it
stores and sends come from ``BENCH_PLAIN_HUEY_URL`` and ``BENCH_SMTP_PORT``.
"""

import os
import time

from django.conf import settings
from huey import RedisHuey, SqliteHuey


def build(url):
    """A stock Huey on ``url`` (sqlite:////path or redis://...) and its send task."""
    if url.startswith("sqlite:"):
        huey = SqliteHuey("plain", filename=url.removeprefix("sqlite://"))
    else:
        huey = RedisHuey("plain", url=url)

    @huey.task(name="send")
    def send(subject, body, from_email, to):
        from django.core.mail import send_mail

        send_mail(subject, body, from_email, to)

    @huey.task(name="noop")
    def noop(i):
        """A no-op: its start time is its result (the idle pickup of ``benchmarks.task_pickup``)."""
        return time.time()

    return huey, send, noop


if "BENCH_PLAIN_HUEY_URL" in os.environ:  # the consumer process: Django only for its mail API
    settings.configure(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=int(os.environ["BENCH_SMTP_PORT"]),
    )
    huey, send, noop = build(os.environ["BENCH_PLAIN_HUEY_URL"])
