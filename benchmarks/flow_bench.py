"""Issue 17's figures: bulk enqueue against one ``enqueue()``, a batch's drain against the same tasks without
one, and a chain's hand-over (one step's end to the next step's start) on an idle consumer."""

import signal
import time
from pathlib import Path

from benchmarks import rig
from benchmarks.stats import median


def bulk(n):
    """µs per task: ``enqueue_many`` of ``n`` calls in one transaction, and ``n`` autocommitted ``enqueue()``."""
    from benchmarks.noop_tasks import noop
    from durable import call, enqueue_many

    t = time.perf_counter()
    enqueue_many([call(noop, i) for i in range(n)])
    many = (time.perf_counter() - t) / n * 1e6
    samples = []
    for i in range(n):
        t = time.perf_counter()
        noop.enqueue(i)
        samples.append(time.perf_counter() - t)
    return many, median(samples) * 1e6


def drain(work, queue_url, n, in_batch):
    """Tasks per second draining ``n`` no-ops queued in one transaction, in a batch or not: (n - 1) / span."""
    from django.db import transaction

    from benchmarks.noop_tasks import noop
    from durable import batch
    from durable.models import Task

    rig.use_database(Path(work) / "flows.sqlite3")
    rig.use_queue(queue_url)
    with batch() if in_batch else transaction.atomic():
        for i in range(n):
            noop.enqueue(i)
    consumer = rig.start_consumer(work, "dummymail://", "flows-drain")
    try:
        rig.wait_for(
            lambda: Task.objects.filter(name="benchmarks.noop_tasks.noop", status="successful").count() >= n,
            timeout=max(60, n / 20),
        )
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    noops = Task.objects.filter(name="benchmarks.noop_tasks.noop").values_list("finished_at", flat=True)
    ends = sorted(t.timestamp() for t in noops if t)
    return (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 and ends[-1] > ends[0] else None


def hand_over(work, queue_url, steps):
    """ms from each step's end to the next step's start, in a chain of ``steps`` no-ops on an idle consumer."""
    from benchmarks.noop_tasks import noop
    from durable import call, chain
    from durable.models import Task

    rig.use_database(Path(work) / "chain.sqlite3")
    rig.use_queue(queue_url)
    consumer = rig.start_consumer(work, "dummymail://", "flows-chain")
    try:
        time.sleep(3)  # start-up work done
        flow = chain(call(noop, 0), *[call(noop) for _ in range(steps - 1)]).enqueue()
        rig.wait_for(lambda: Task.objects.filter(flow_id=flow.id, status="successful").count() >= steps, timeout=60)
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    rows = list(Task.objects.filter(flow_id=flow.id).order_by("id").values_list("last_attempted_at", "finished_at"))
    return [(rows[k + 1][0] - rows[k][1]).total_seconds() * 1000 for k in range(len(rows) - 1)]
