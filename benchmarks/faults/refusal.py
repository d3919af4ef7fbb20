"""Scenario 2: the relay answers 421 for a while, then accepts: all delivered, none twice."""

import time

from benchmarks import rig
from benchmarks.faults.common import Result, fresh, queue_mail, statuses, tally


def run(work, sink, n, outage, retry_base):
    from django.db.models import Max

    from notifications.models import Message

    result = Result(f"2. relay refusing (421) for {outage:.0f} s")
    fresh(work, "refusal")
    sink.reset()
    consumer = rig.start_consumer(work, sink.url, "refusal", NOTIFICATIONS_RETRY_BASE_SECONDS=retry_base)
    sink.refuse_for(outage)
    started = time.monotonic()
    queue_mail("refusal", n)
    done = rig.wait_for(lambda: statuses() == {"sent": n}, timeout=outage + 8 * retry_base + 120, interval=0.5)
    finished = time.monotonic() - started
    consumer.stop()
    arrived, duplicates = tally(sink, "refusal ")
    result.figures = {
        "e-mails": n,
        "outage (s)": outage,
        "retry base (s)": retry_base,
        "SMTP DATA attempts": sink.attempts(),
        "most attempts for one e-mail": Message.objects.aggregate(m=Max("attempts"))["m"],
        "all delivered after (s from first send)": round(finished, 1),
        "arrived (distinct)": arrived,
        "duplicates": duplicates,
    }
    result.check(bool(done) and arrived == n, f"{n - arrived} not delivered; rows {dict(statuses())}")
    result.check(duplicates == 0, f"{duplicates} e-mails arrived twice")
    return result
