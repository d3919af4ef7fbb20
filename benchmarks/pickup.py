"""Section 4: from send_mail() to arrival when the consumer has been idle, and its idle CPU."""

import datetime
import random
import re
import signal
import time

from benchmarks import rig

STARTED = re.compile(
    r"^(\S+ \S+) INFO huey \d+ \S+: Executing (?:notifications\.tasks\.deliver|mysite\.wakeups\.wake)", re.M
)


def task_started_after(log, t):
    """Epoch time of the first delivery task the consumer started at or after ``t`` (ms resolution)."""
    for stamp in STARTED.findall(log):
        at = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if at >= t - 0.001:
            return at
    return None


def run(work, sink, queue_url, samples, idle_cpu_seconds):
    from django.core.mail import send_mail

    rig.clear_outbox()
    rig.use_queue(queue_url)
    sink.reset()
    consumer = rig.start_consumer(work, sink.url, "pickup")
    time.sleep(3)  # start-up work (orphan recovery, catch-up) done; workers back off to idle
    latencies, starts = [], []
    for i in range(samples):
        time.sleep(random.uniform(1.5, 3.0))  # idle long enough for any poll back-off to reach its maximum
        subject = f"pickup {i}"
        sent = time.time()
        send_mail(subject, "Body", "from@example.com", ["to@example.com"])
        sink.wait_for(i + 1, timeout=30, poll=0.005)
        arrival = sink.arrival(subject)
        latencies.append(arrival - sent if arrival else None)
        started = task_started_after(consumer.log(), sent)
        starts.append(max(started - sent, 0.0005) if started else None)
    time.sleep(2)
    before, t = rig.cpu_seconds(consumer.pid), time.monotonic()
    time.sleep(idle_cpu_seconds)
    cpu = (rig.cpu_seconds(consumer.pid) - before) / (time.monotonic() - t) * 100
    idle_rss = rig.rss_mb(consumer.pid)
    consumer.stop(signal.SIGINT)
    return {
        "latencies": [x for x in latencies if x is not None],
        "task_starts": [x for x in starts if x is not None],
        "idle_cpu_pct": cpu,
        "idle_rss_mb": idle_rss,
    }
