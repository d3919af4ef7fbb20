"""Scenario 1: kill -9 the consumer repeatedly while a batch drains; nothing lost, duplicates bounded."""

import time

from benchmarks import rig
from benchmarks.faults.common import Result, fresh, queue_mail, statuses, tally


def run(work, sink, n, kills, workers=4):
    from django.conf import settings

    from notifications.models import Message

    result = Result("1. kill -9 while draining")
    fresh(work, "kill9")
    sink.reset()
    queue_mail("kill9", n)
    consumer = rig.start_consumer(work, sink.url, "kill9", workers=workers)
    in_flight = []
    for k in range(kills):
        rig.wait_for(lambda k=k: sink.count() >= (k + 1) * n // (kills + 1), timeout=120, interval=0.01)
        consumer.kill()
        in_flight.append(Message.objects.filter(status="sending").count())
        consumer = rig.start_consumer(work, sink.url, "kill9", workers=workers)
    done = rig.wait_for(lambda: statuses() == {"sent": n}, timeout=180, interval=0.2)
    time.sleep(1)
    consumer.stop()
    arrived, duplicates = tally(sink, "kill9 ")
    # Each worker has at most one group of sent-but-unrecorded e-mails (NOTIFICATIONS_RECORD_EVERY) at a kill.
    group = settings.NOTIFICATIONS_RECORD_EVERY
    bound = sum(min(held, workers * group) for held in in_flight)
    result.figures = {
        "e-mails": n,
        "kills": kills,
        "rows held at each kill": in_flight,
        "arrived (distinct)": arrived,
        "lost": n - arrived,
        "duplicates": duplicates,
        "duplicate bound (one group per busy worker per kill)": bound,
        "rows all sent": bool(done),
    }
    result.check(arrived == n, f"{n - arrived} e-mails never arrived")
    result.check(duplicates <= bound, f"{duplicates} duplicates > bound {bound}")
    result.check(bool(done), f"rows not all sent: {dict(statuses())}")
    return result
