"""Scenario 6: the consumer stopped over midnight and started next morning: the cleanup runs once a day.

Part 1 moves the clock through ``operations.cleanup.run_if_due(now=...)``; part 2 starts real
consumers with the PeriodicRun marker set to yesterday, as after a night without a consumer.
"""

import datetime
import re
import time
from collections import Counter

from benchmarks import rig
from benchmarks.faults.common import Result, fresh


def run(work, sink):
    from django.utils import timezone

    from notifications.models import Message
    from operations import cleanup
    from operations.models import PeriodicRun

    result = Result("6. consumer stopped over midnight")
    fresh(work, "midnight")
    tz = timezone.get_current_timezone()
    day1 = timezone.localdate()

    def at(day, hh, mm, ss=0):
        return datetime.datetime.combine(day1 + datetime.timedelta(days=day), datetime.time(hh, mm, ss), tz)

    # (label, now): the consumer runs on day 0, is stopped before midnight, comes back at 08:00 on day 1.
    timeline = [
        ("day 0, 00:00:05 midnight tick", at(0, 0, 0, 5)),
        ("day 0, 00:00:40 second tick (other worker)", at(0, 0, 0, 40)),
        ("day 0, 18:00 consumer restarted (catch-up)", at(0, 18, 0)),
        ("day 1, 08:00 consumer back after the night (catch-up)", at(1, 8, 0)),
        ("day 1, 08:00:03 a second consumer starts", at(1, 8, 0, 3)),
        ("day 2, 00:00:02 midnight tick", at(2, 0, 0, 2)),
        ("day 2, 00:00:02 same tick in another process", at(2, 0, 0, 2)),
    ]
    runs = Counter()
    for _label, now in timeline:
        if cleanup.run_if_due(now=now) is not None:
            runs[timezone.localdate(now)] += 1
    expected_days = {day1, day1 + datetime.timedelta(days=1), day1 + datetime.timedelta(days=2)}
    result.check(set(runs) == expected_days and set(runs.values()) == {1}, f"runs per day: {dict(runs)}")

    # Part 2: real consumers, marker at yesterday, old rows waiting to be pruned.
    today = timezone.localdate()
    PeriodicRun.objects.update_or_create(
        name=cleanup.JOB, defaults={"last_run_for": today - datetime.timedelta(days=1)}
    )
    old = timezone.now() - datetime.timedelta(days=40)
    Message.objects.bulk_create(
        Message(from_email="f@example.com", recipients=["t@example.com"], raw=b"x", status="sent", finished_at=old)
        for _ in range(25)
    )
    logs = []
    for label in ("morning", "restart"):
        consumer = rig.start_consumer(work, sink.url, f"midnight-{label}")
        consumer.wait_for_log("daily_cleanup", timeout=30)
        time.sleep(1.5)
        consumer.stop()
        logs.append(consumer.log())
    both = [rig.start_consumer(work, sink.url, f"midnight-pair-{i}") for i in range(2)]
    time.sleep(3)
    for consumer in both:
        consumer.stop()
        logs.append(consumer.log())
    text = "\n".join(logs)
    ran = len(re.findall(r"operations\.cleanup .*: cleanup: ", text))
    skipped = len(re.findall(r"operations\.cleanup .*: cleanup for .* already ran", text))
    marker = PeriodicRun.objects.get(name=cleanup.JOB)
    result.figures = {
        "clock-moved calls": len(timeline),
        "runs per site-local day": {str(d): n for d, n in sorted(runs.items())},
        "consumer starts on the morning after": 4,
        "cleanup runs they did": ran,
        "'already ran' answers": skipped,
        "old sent e-mails left": Message.objects.filter(
            finished_at__lt=timezone.now() - datetime.timedelta(days=30)
        ).count(),
        "marker now": str(marker.last_run_for),
    }
    result.check(ran == 1, f"the catch-up cleanup ran {ran} times, not once")
    result.check(marker.last_run_for == today, f"marker says {marker.last_run_for}, not {today}")
    result.check(result.figures["old sent e-mails left"] == 0, "the catch-up did not prune the old rows")
    return result
