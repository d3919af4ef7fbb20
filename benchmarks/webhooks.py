"""Outgoing webhooks: what an event costs its sender, deliveries per second to a loopback receiver, and the
time to drain 1,000 events queued during a receiver outage.

``python -m benchmarks.webhooks`` (``BENCH_QUICK=1``: 200 events). A real 4-worker consumer, the receiver a
threaded HTTP server in this process (``testing.receiver``) answering 200 at once.

The outage is simulated, not waited for: the receiver answers 503 while the events are raised (each later
event's task waits queued behind the first, ``ordered=True``, whose retries are the durable task's own), then 200. What
a real 10-minute outage adds is the wait for the first delivery's next retry after the receiver is back; with
the default back-off (10 s doubling, at most 600 s) that retry comes 630 s after the outage began, so 30 s after
a 10-minute outage ends. The figure is that wait plus the drain measured here.
"""

import logging
import os
import signal
import time

from benchmarks import rig

QUICK = rig.quick("BENCH_QUICK")
N = 200 if QUICK else 1000


def emit(n, endpoints):
    """Raise ``n`` events; returns the median microseconds one cost its sender (event, deliveries, tasks)."""
    from operations.signals import site_event

    costs = []
    for i in range(n):
        began = time.perf_counter()
        site_event.send(sender="bench", type="report.ready", data={"n": i}, summary=f"bench {i}")
        costs.append(time.perf_counter() - began)
    costs.sort()
    return costs[len(costs) // 2] * 1e6


def endpoints(receiver, count):
    from webhooks.models import Endpoint

    return [
        Endpoint.objects.create(name=f"bench {i}", url=receiver.url(f"/hook/{i}"), events=["report.ready"])
        for i in range(count)
    ]


def fresh(work, label):
    rig.use_database(work / f"{label}.sqlite3")
    rig.use_queue(rig.sqlite_url(work / f"{label}-huey.sqlite3"))


def throughput(work, receiver, n, count):
    """Deliveries per second once a consumer starts on ``n`` queued events spread over ``count`` endpoints."""
    from webhooks.models import Delivery

    fresh(work, f"rate-{count}")
    endpoints(receiver, count)
    cost = emit(n // count, count)
    consumer = rig.start_consumer(work, "dummymail://", f"rate-{count}", workers=4)
    try:
        rig.wait_for(lambda: Delivery.objects.filter(status="delivered").count() >= n, timeout=max(120, n / 5))
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    times = sorted(Delivery.objects.values_list("finished_at", flat=True))
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds(), cost


def drain_after_outage(work, receiver, n):
    """Seconds from the receiver's return to the first delivery, and from that to the last (n events, one endpoint)."""
    from testing.receiver import Reply
    from webhooks.models import Delivery

    fresh(work, "outage")
    endpoints(receiver, 1)
    receiver.default = Reply(503)
    # Retries every second or two during the simulated outage (Huey's scheduler runs every second).
    consumer = rig.start_consumer(
        work, "dummymail://", "outage", workers=4, WEBHOOKS_RETRY_BASE_SECONDS=1, WEBHOOKS_RETRY_MAX_SECONDS=2
    )
    try:
        emit(n, 1)
        # The outage lasts until every event's task is queued, the later ones behind the first.
        rig.wait_for(lambda: consumer_idle(), timeout=max(120, n / 5))
        refused = len(receiver.received)
        back = time.time()
        receiver.default = Reply(200)
        rig.wait_for(lambda: Delivery.objects.filter(status="delivered").count() >= n, timeout=max(300, n / 2))
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    times = sorted(t.timestamp() for t in Delivery.objects.values_list("finished_at", flat=True))
    return times[0] - back, times[-1] - times[0], refused


def consumer_idle():
    """No durable task is due now but those waiting behind the first delivery, whose retry is scheduled."""
    from django.utils import timezone

    from durable.limits import in_order
    from durable.models import Task

    return not in_order(Task.objects.filter(status__in=["queued", "running"], due_at__lte=timezone.now())).exists()


def ten_minute_wait():
    """Seconds between a 10-minute outage's end and the first delivery's next retry, with the default back-off."""
    from webhooks.delivery import backoff

    t, attempt = 0.0, 1
    while t <= 600:
        t += backoff(attempt)  # the default settings: this process sets none
        attempt += 1
    return t - 600, attempt


def main():
    os.environ.setdefault("WEBHOOKS_ALLOWED_NETWORKS", "127.0.0.1/32")
    work = rig.setup("webhooks")
    logging.getLogger("webhooks").setLevel(logging.WARNING)  # not a line per event raised here
    from testing.receiver import Receiver

    receiver = Receiver().start()
    try:
        for count in (1, 4):
            receiver.received.clear()
            rate, cost = throughput(work, receiver, N, count)
            print(
                f"{N} events to {count} endpoint(s): {rate:.0f} deliveries/s (an event costs its sender {cost:.0f} us)"
            )
        receiver.received.clear()
        first, drain, refused = drain_after_outage(work, receiver, N)
        wait, attempts = ten_minute_wait()
        print(
            f"{N} events queued during an outage ({refused} refused attempts): first delivered {first:.1f} s after "
            f"the receiver was back, all {N} {drain:.1f} s later; a real 10-minute outage adds {wait:.0f} s "
            f"(the first event's retry {attempts} comes at {600 + wait:.0f} s): {wait + drain:.0f} s in all"
        )
    finally:
        receiver.stop()


def run(quick=False):
    """The webhooks section of ``make bench``: this module in a process of its own; returns its lines."""
    env = {**os.environ, "BENCH_QUICK": "1" if quick else ""}
    return rig.section_in_process("Webhooks (issue 11)", ["-m", "benchmarks.webhooks"], env=env)


if __name__ == "__main__":
    main()
