"""Durable no-op tasks against plain Huey ``@db_task`` no-ops, drained by the same consumer at its defaults.

Each round queues ``n`` tasks with the consumer stopped (each ``enqueue()`` in its own transaction, as
``n`` requests would), starts the site's consumer (``run_huey``, 4 workers, the defaults) and times
the drain from the first task's end to the last's: (n - 1) / span, so start-up is not counted. The
durable tasks are ``benchmarks.noop_tasks.noop`` (rows, leases, an attempt row each); the baseline is
``benchmarks.tasks.plain_noop`` (one Huey message each, at most once). Rounds alternate.
"""

import signal
import statistics
import time
from pathlib import Path

from benchmarks import rig


def _durable_round(work, n, label):
    from benchmarks.noop_tasks import noop
    from durable.models import Task

    Task.objects.all().delete()
    for i in range(n):
        noop.enqueue(i)
    consumer = rig.start_consumer(work, "dummymail://", label)
    cpu = rig.cpu_seconds(consumer.pid)
    try:
        done = rig.wait_for(
            lambda: Task.objects.filter(name="benchmarks.noop_tasks.noop", status="successful").count() >= n,
            timeout=max(60, n / 50),
        )
        cpu = rig.cpu_seconds(consumer.pid) - cpu
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    ends = sorted(
        Task.objects.filter(name="benchmarks.noop_tasks.noop", status="successful").values_list(
            "finished_at", flat=True
        )
    )
    return _rate(n, [e.timestamp() for e in ends], done, cpu)


def _plain_round(work, n, label):
    from huey.contrib.djhuey import HUEY

    from benchmarks.tasks import plain_noop

    HUEY.storage.flush_results()
    handles = [plain_noop(i) for i in range(n)]
    consumer = rig.start_consumer(work, "dummymail://", label)
    cpu = rig.cpu_seconds(consumer.pid)
    try:
        done = rig.wait_for(lambda: HUEY.storage.result_store_size() >= n, timeout=max(60, n / 50))
        cpu = rig.cpu_seconds(consumer.pid) - cpu
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    ends = sorted(e for e in (h.get(preserve=True) for h in handles) if e is not None)
    return _rate(n, ends, done, cpu)


def _rate(n, ends, done, cpu):
    span = ends[-1] - ends[0] if len(ends) > 1 else 0
    rate = (len(ends) - 1) / span if span > 0 else None
    return {"rate": rate, "finished": len(ends), "complete": bool(done), "cpu_us": cpu / n * 1e6}


def run(work, queue_url, n, rounds):
    """``rounds`` alternating rounds of ``n`` durable and ``n`` plain no-ops on ``queue_url``: {kind: [result, ...]}."""
    rig.use_database(Path(work) / "noop-drain.sqlite3")
    out = {"durable": [], "plain": []}
    for k in range(rounds):
        rig.use_queue(queue_url)
        out["durable"].append(_durable_round(work, n, f"noop-durable-{k}"))
        rig.use_queue(queue_url)
        out["plain"].append(_plain_round(work, n, f"noop-plain-{k}"))
    return out


if __name__ == "__main__":  # python -m benchmarks.noop_drain [n] [rounds]: both queue storages, printed
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = rig.setup("noop-drain")
    for name, url in (("SQLite", rig.sqlite_url(work / "queue.sqlite3")), ("Redis", rig.REDIS_URL)):
        res = run(work, url, n, rounds)
        print(name, {k: [(round(r["rate"] or 0), round(r["cpu_us"])) for r in v] for k, v in res.items()})


def memory(work, queue_url, n):
    """Consumer RSS (MB) while it drains ``n`` durable no-ops queued beforehand, sampled every 0.25 s.

    RSS climbs over the first ~10,000 tasks, then saws by a few MB as Python's arenas and SQLite's cache fill
    and empty (66.7-71.5 MB over 200,000 no-ops, sampled every 3 %, with no trend: 67.9 at 10,000, 69.0 at
    200,000). Two single samples, or medians of a few, land anywhere on the saw; "flat" is the trend instead:
    the least-squares line through every sample from 10 % done to the end, as MB over those 90 %."""
    from benchmarks.noop_tasks import noop
    from durable import call, enqueue_many
    from durable.models import Task

    rig.use_database(Path(work) / "noop-memory.sqlite3")
    rig.use_queue(queue_url)
    for start in range(0, n, 5000):
        enqueue_many([call(noop, i) for i in range(start, min(n, start + 5000))])
    consumer = rig.start_consumer(work, "dummymail://", "noop-memory")
    samples = []  # (tasks done, RSS)
    try:
        deadline = time.monotonic() + max(120, n / 100)
        while time.monotonic() < deadline:
            done = Task.objects.filter(name="benchmarks.noop_tasks.noop", status="successful").count()
            samples.append((done, rig.rss_mb(consumer.pid)))
            if done >= n:
                break
            time.sleep(0.25)
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    at_tenth = next(rss for done, rss in samples if done >= n / 10)
    tail = [(done, rss) for done, rss in samples if done >= n / 10]
    done_at, rss_at = [d for d, _ in tail], [r for _, r in tail]
    slope = statistics.linear_regression(done_at, rss_at).slope if len(set(done_at)) > 1 else 0.0
    return {
        "at_tenth": at_tenth,
        "end": samples[-1][1],
        "trend": slope * 0.9 * n,
        "samples": len(tail),
        "peak": max(rss for _, rss in samples),
        "done": samples[-1][0],
    }
