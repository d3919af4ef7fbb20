"""Durable tasks against Huey's own HueyBackend: what an enqueue costs its caller, and a no-op drain.

``python -m benchmarks.durable`` (not yet part of ``make bench``). Same SQLite database, same
queue storage, same 4-worker consumer for both; each drain is steady-state throughput:
(N - 1) / (last finish - first finish), so consumer start-up is not counted.
"""

import os
import signal
import statistics
import time
from datetime import datetime

from benchmarks import rig


def _noop():
    """The drained task, imported once Django is set up."""
    from benchmarks.durable_tasks import noop

    return noop


def _timed(fn, n):
    samples = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t)
    return samples


def enqueue_costs(queue_url, n):
    """Median microseconds per enqueue: durable, HueyBackend, and a plain model INSERT + Huey enqueue."""
    from huey.contrib.djhuey.tasks_backend import HueyBackend

    from benchmarks.plain_huey import build
    from durable.models import Task

    rig.use_queue(queue_url)
    noop_ = _noop()
    durable = _timed(lambda i: noop_.enqueue(i), n)
    rig.use_queue(queue_url)
    huey_backend = HueyBackend("huey", {})
    hueys = _timed(lambda i: huey_backend.enqueue(noop_, (i,), {}), n)
    huey, send = build(queue_url)
    huey.storage.flush_all()

    def plain(i):
        Task.objects.create(name="benchmarks.durable.noop", args=[i])
        send("s", "b", "f@example.com", ["t@example.com"])

    plains = _timed(plain, n)
    Task.objects.all().delete()
    return {name: statistics.median(s) * 1e6 for name, s in (("durable", durable), ("huey", hueys), ("plain", plains))}


def drain_durable(work, queue_url, n, workers=4):
    from durable.models import Task

    Task.objects.all().delete()
    rig.use_queue(queue_url)
    noop_ = _noop()
    for i in range(n):
        noop_.enqueue(i)
    consumer = rig.start_consumer(work, "dummymail://", f"durable-{workers}w", workers=workers)
    cpu = rig.cpu_seconds(consumer.pid)
    rig.wait_for(lambda: Task.objects.filter(status="successful").count() >= n, timeout=max(120, n / 20))
    cpu = rig.cpu_seconds(consumer.pid) - cpu
    consumer.stop(signal.SIGINT, timeout=30)
    times = list(Task.objects.values_list("finished_at", flat=True))
    return (n - 1) / (max(times) - min(times)).total_seconds(), cpu / n * 1e6


def drain_huey(work, queue_url, n, workers=4):
    from huey.contrib.djhuey import HUEY
    from huey.contrib.djhuey.tasks_backend import KEY, HueyBackend

    rig.use_queue(queue_url)
    backend = HueyBackend("huey", {})
    ids = [backend.enqueue(_noop(), (i,), {}).id for i in range(n)]
    consumer = rig.start_consumer(work, "dummymail://", f"huey-{workers}w", workers=workers)
    cpu = rig.cpu_seconds(consumer.pid)

    def finished():
        return [HUEY.get(KEY % i, peek=True) for i in ids[-50:]]

    rig.wait_for(lambda: all(r and r["finished_at"] for r in finished()), timeout=max(120, n / 20))
    time.sleep(0.5)
    cpu = rig.cpu_seconds(consumer.pid) - cpu
    consumer.stop(signal.SIGINT, timeout=30)
    times = [datetime.fromisoformat(r["finished_at"]) for i in ids if (r := HUEY.get(KEY % i, peek=True))]
    return (len(times) - 1) / (max(times) - min(times)).total_seconds(), cpu / n * 1e6


def pickup(work, queue_url, n=20):
    """Idle pickup: ms from ``enqueue()`` returning to the task's start, one at a time on an idle consumer (p50, p95)."""
    from django.utils import timezone

    from durable.models import Task

    Task.objects.all().delete()
    rig.use_queue(queue_url)
    consumer = rig.start_consumer(work, "dummymail://", "durable-pickup", workers=4)
    noop_ = _noop()
    noop_.enqueue(-1)  # warm up
    rig.wait_for(lambda: Task.objects.filter(status="successful").count() == 1)
    samples = []
    for i in range(n):
        time.sleep(0.3)  # idle
        sent = timezone.now()
        pk = noop_.enqueue(i).id
        rig.wait_for(lambda pk=pk: Task.objects.filter(pk=pk, status="successful").exists(), timeout=10)
        started = Task.objects.get(pk=pk).last_attempted_at
        samples.append((started - sent).total_seconds() * 1000)
    consumer.stop(signal.SIGINT, timeout=30)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main():
    work = rig.setup("durable")
    n = int(os.environ.get("BENCH_DURABLE_N", "1000"))
    for name, url in (("sqlite", rig.sqlite_url(work / "huey.sqlite3")), ("redis", rig.REDIS_URL)):
        costs = enqueue_costs(url, 300)
        print(
            f"{name}: enqueue durable {costs['durable']:.0f} us, HueyBackend {costs['huey']:.0f} us, "
            f"INSERT + Huey enqueue {costs['plain']:.0f} us"
        )
        durable, durable_cpu = drain_durable(work, url, n)
        huey, huey_cpu = drain_huey(work, url, n)
        p50, p95 = pickup(work, url)
        print(f"{name}: idle pickup of a durable task: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        print(
            f"{name}: no-op drain at 4 workers: durable {durable:.0f}/s ({durable_cpu:.0f} us CPU/task), "
            f"HueyBackend {huey:.0f}/s ({huey_cpu:.0f} us CPU/task): {durable / huey:.2f}x"
        )


if __name__ == "__main__":
    main()
