"""Section 2: what one send_mail() costs its caller, and what plain Huey costs for the same."""

import time
from pathlib import Path

from benchmarks import rig


def _timed(fn, n):
    samples = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t)
    return samples


def outbox(queue_url, n):
    """Per send_mail(): render, INSERT the outbox row, commit, enqueue the wake-up."""
    from django.core.mail import send_mail

    rig.clear_outbox()
    rig.use_queue(queue_url)
    return _timed(lambda i: send_mail(f"enqueue {i}", "Body", "from@example.com", ["to@example.com"]), n)


def plain(queue_url, n, with_row):
    """Stock Huey: enqueue a send task carrying the e-mail; ``with_row`` adds an INSERT of a row first."""
    from benchmarks.plain_huey import build
    from notifications.models import Message

    if queue_url.startswith("sqlite:"):
        Path(queue_url.removeprefix("sqlite://")).unlink(missing_ok=True)
    huey, send, _ = build(queue_url)
    huey.storage.flush_all()
    rig.clear_outbox()

    def one(i):
        if with_row:
            Message.objects.create(from_email="from@example.com", recipients=["to@example.com"], raw=b"x")
        send(f"plain {i}", "Body", "from@example.com", ["to@example.com"])

    samples = _timed(one, n)
    huey.storage.flush_all()
    return samples
