"""Scenario 6: the consumer stopped over midnight and started next morning: the cleanup runs once a day.

Part 1 moves the clock through the cleanup's slot claim (``durable.periodic``: ``Declaration.tick(now)``); part 2
starts real consumers with the cleanup's slot row at the midnight before last, as after a night without a consumer.
"""

import datetime
import re
import time
from collections import Counter

from benchmarks import rig
from benchmarks.faults.common import Result, fresh


def run(work, sink):
    from django.utils import timezone

    from durable import periodic
    from durable.models import Periodic, Task
    from notifications.models import Message
    from operations.tasks import at_site_midnight

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
    name = "operations.tasks.daily_cleanup"
    daily = periodic.declared()[name]
    Periodic.objects.update_or_create(name=name, defaults={"last_slot": at(-1, 0, 0)})  # ran the midnight before
    runs = Counter()
    for _label, now in timeline:
        if daily.tick(now) is not None:
            runs[timezone.localdate(now)] += 1
    Task.objects.filter(name=name).delete()  # counted; not for part 2's consumers to run
    expected_days = {day1, day1 + datetime.timedelta(days=1), day1 + datetime.timedelta(days=2)}
    result.check(set(runs) == expected_days and set(runs.values()) == {1}, f"runs per day: {dict(runs)}")

    # Part 2: real consumers, the last run at the midnight before last, old rows waiting to be pruned.
    latest = periodic.latest_slot(at_site_midnight, timezone.now())
    Periodic.objects.update_or_create(name=name, defaults={"last_slot": latest - datetime.timedelta(days=1)})
    old = timezone.now() - datetime.timedelta(days=40)
    Message.objects.bulk_create(
        Message(from_email="f@example.com", recipients=["t@example.com"], raw=b"x", status="sent", finished_at=old)
        for _ in range(25)
    )
    ran = len(re.findall(r"operations\.cleanup .*: cleanup: ", morning_starts(work, sink)))
    marker = Periodic.objects.get(name=name)
    result.figures = {
        "clock-moved calls": len(timeline),
        "runs per site-local day": {str(d): n for d, n in sorted(runs.items())},
        "consumer starts on the morning after": 4,
        "cleanup runs they did": ran,
        "cleanup tasks enqueued": Task.objects.filter(name=name).count(),
        "old sent e-mails left": Message.objects.filter(
            finished_at__lt=timezone.now() - datetime.timedelta(days=30)
        ).count(),
        "slot taken now": marker.last_slot.isoformat(),
    }
    result.check(ran == 1, f"the catch-up cleanup ran {ran} times, not once")
    result.check(marker.last_slot == latest, f"the slot taken is {marker.last_slot}, not {latest}")
    result.check(result.figures["cleanup tasks enqueued"] == 1, "the catch-up was enqueued more than once")
    result.check(result.figures["old sent e-mails left"] == 0, "the catch-up did not prune the old rows")
    return result


def morning_starts(work, sink):
    """A consumer starts, restarts, then two start together; returns their logs."""
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
    return "\n".join(logs)
