"""Section 7: standard-API tasks: what ``enqueue()`` costs, and no-op tasks drained per second, by backend.

The same no-op task (``benchmarks.noop_tasks.noop``) goes through each backend of
``benchmarks.settings.TASKS`` on the same SQLite database: ours (``default``), Huey's
``HueyBackend`` (``huey``, at-most-once) and django-tasks-db (``db``, run by its
``db_worker``). Drain rate is (N - 1) / (last finish - first start), read from the
backends' own results through the standard API, so nobody's start-up is counted.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import rig


def enqueue_cost(alias, n):
    """Seconds per ``noop.using(backend=alias).enqueue(i)`` in autocommit, as a view would call it."""
    from benchmarks.noop_tasks import noop

    task = noop.using(backend=alias)
    samples = []
    for i in range(n):
        t = time.perf_counter()
        task.enqueue(i)
        samples.append(time.perf_counter() - t)
    return samples


def _finished(task, ids):
    results = [task.get_result(i) for i in ids]
    return all(r.finished_at is not None for r in results), results


def _start_worker(work, alias, workers, label):
    """The process that runs ``alias``'s tasks: ``run_huey`` for ours and Huey's, ``db_worker`` for django-tasks-db."""
    if alias != "db":
        return [rig.start_consumer(work, "dummymail://", label, workers=workers)]
    procs = []
    for k in range(workers):
        log = open(Path(work) / f"{label}-{k}.log", "ab")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "db_worker",
                    "--backend",
                    "db",
                    "--interval",
                    "0.1",
                    "--no-startup-delay",
                ],
                cwd=rig.BASE_DIR,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return procs


def _stop(procs):
    for proc in procs:
        if hasattr(proc, "stop"):
            proc.stop()
        else:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def drain(work, alias, n, workers):
    """N no-op tasks enqueued with no worker running, then ``workers`` drain them; tasks per second."""
    from benchmarks.noop_tasks import noop

    rig.use_database(Path(work) / f"tasks-{alias}.sqlite3")
    rig.use_queue(rig.sqlite_url(Path(work) / f"tasks-{alias}-queue.sqlite3"))
    task = noop.using(backend=alias)
    ids = [task.enqueue(i).id for i in range(n)]
    procs = _start_worker(work, alias, workers, f"tasks-{alias}-{workers}w")
    try:
        deadline = time.monotonic() + max(120, n / 10)
        while time.monotonic() < deadline and not _finished(task, ids[-20:])[0]:
            time.sleep(0.5)
        done, results = _finished(task, ids)
        while not done and time.monotonic() < deadline:
            time.sleep(0.5)
            done, results = _finished(task, ids)
    finally:
        _stop(procs)
    finished = [r for r in results if r.finished_at is not None]
    ok = sum(r.status == "SUCCESSFUL" for r in finished)
    span = (max(r.finished_at for r in finished) - min(r.started_at for r in finished)).total_seconds()
    return {"rate": (len(finished) - 1) / span if span > 0 else None, "successful": ok, "finished": len(finished)}


def backend_name(alias):
    from django_tasks import task_backends

    return type(task_backends[alias]).__name__


def pickup(work, queue_url, n=20):
    """Idle pickup: ms from ``enqueue()`` returning to the task's start, one at a time on an idle consumer (p50, p95)."""
    import signal
    import statistics

    from django.utils import timezone

    from benchmarks.noop_tasks import noop
    from durable.models import Task

    Task.objects.all().delete()
    rig.use_queue(queue_url)
    consumer = rig.start_consumer(work, "dummymail://", "durable-pickup", workers=4)
    noop.enqueue(-1)  # warm up
    rig.wait_for(lambda: Task.objects.filter(name="benchmarks.noop_tasks.noop", status="successful").count() == 1)
    samples = []
    for i in range(n):
        time.sleep(0.3)  # idle
        sent = timezone.now()
        pk = noop.enqueue(i).id
        rig.wait_for(lambda pk=pk: Task.objects.filter(pk=pk, status="successful").exists(), timeout=10)
        started = Task.objects.get(pk=pk).last_attempted_at
        samples.append((started - sent).total_seconds() * 1000)
    consumer.stop(signal.SIGINT, timeout=30)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]
