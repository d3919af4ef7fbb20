"""Scenario 7: the consumer is killed while a load balancer polls /health/ every second: at most one admin e-mail.

gunicorn serves the site with ADMINS set; each admin e-mail is an outbox row, counted after the run.
"""

import os
import time

from benchmarks import rig
from benchmarks.faults.common import Result, fresh
from benchmarks.faults.web_load import Site

ADMIN = "admin@example.com"
ENV = {"ADMINS": ADMIN, "OPERATIONS_HEARTBEAT_SECONDS": "1", "OPERATIONS_HEARTBEAT_STALE_SECONDS": "3"}


def run(work, sink, seconds):
    from notifications.models import Message

    result = Result(
        f"7. consumer killed while /health/ is polled every second for {seconds} s: at most one admin e-mail"
    )
    fresh(work, "health")
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        consumer = rig.start_consumer(work, sink.url, "health")
        site = Site(work)
        rig.wait_for(lambda: site.request("GET", "/health/")[0] == 200, timeout=30, interval=0.5)
        codes = []
        started = time.monotonic()
        for i in range(seconds):
            if i == 3:
                consumer.kill()
            codes.append(site.request("GET", "/health/")[0])
            time.sleep(max(0.0, started + i + 1 - time.monotonic()))
        site.stop()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    mails = [m.subject for m in Message.objects.all() if ADMIN in m.recipients]
    result.figures = {
        "polls": len(codes),
        "503 answers": codes.count(503),
        "other answers": len(codes) - codes.count(503) - codes.count(200),
        "admin e-mails": len(mails),
        "subjects": mails,
    }
    result.check(codes.count(503) > 0, "/health/ never turned 503 after the kill")
    result.check(len(mails) <= 1, f"{len(mails)} admin e-mails (at most one expected)")
    return result
