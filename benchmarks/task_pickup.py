"""Idle pickup of a task: ``enqueue()`` called on an idle consumer to the task's start, ours against plain Huey's.

Ours: a durable no-op (``benchmarks.noop_tasks.noop``) on the site's consumer (``run_huey``, 4 workers); its
start is the row's ``last_attempted_at``. Plain Huey: a stock ``RedisHuey``/``SqliteHuey`` consumer
(``huey_consumer benchmarks.plain_huey.huey``, default polling) and a no-op whose result is its start time.
Each sample waits ``idle`` seconds first, so any poll back-off reaches its maximum.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import rig


def durable(work, queue_url, n, idle=0.5):
    """ms from calling ``noop.enqueue()`` to the task's start, ``n`` times on an idle consumer; and its idle RSS."""
    from benchmarks.noop_tasks import noop
    from durable.models import Task

    rig.use_database(Path(work) / "task-pickup.sqlite3")
    rig.use_queue(queue_url)
    consumer = rig.start_consumer(work, "dummymail://", "task-pickup")
    try:
        time.sleep(3)  # start-up work done
        # One task first, as plain Huey's consumer below runs one before its samples: each side's first run warms up.
        warm = noop.enqueue(-1).id
        rig.wait_for(lambda: Task.objects.filter(pk=warm, status="successful").exists(), timeout=30)
        samples = []
        for i in range(n):
            time.sleep(idle)
            sent = time.time()
            pk = noop.enqueue(i).id
            rig.wait_for(lambda pk=pk: Task.objects.filter(pk=pk, status="successful").exists(), timeout=30)
            started = Task.objects.get(pk=pk).last_attempted_at.timestamp()
            samples.append((started - sent) * 1000)
        rss = rig.rss_mb(consumer.pid)
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    return samples, rss


def plain(work, queue_url, n, idle=0.5):
    """The same with plain Huey: ms from calling the enqueue to the no-op's start; and the consumer's idle RSS."""
    from benchmarks.plain_huey import build

    if queue_url.startswith("sqlite:"):
        Path(queue_url.removeprefix("sqlite://")).unlink(missing_ok=True)
    huey, _, noop = build(queue_url)
    huey.storage.flush_all()
    env = {**os.environ, "BENCH_PLAIN_HUEY_URL": queue_url, "BENCH_SMTP_PORT": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with open(Path(work) / "plain-pickup.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", "benchmarks.plain_huey.huey", "-w", "4"],
            cwd=rig.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            noop(-1).get(blocking=True, timeout=30)  # up and running
            time.sleep(3)
            samples = []
            for i in range(n):
                time.sleep(idle)
                sent = time.time()
                result = noop(i)
                samples.append((result.get(blocking=True, timeout=30, backoff=1, max_delay=0.001) - sent) * 1000)
            rss = rig.rss_mb(proc.pid)
        finally:
            rig.interrupt(proc)
    huey.storage.flush_all()
    return samples, rss


def plain_django_rss(work, queue_url, settle=3):
    """Idle RSS (MB) of ``manage.py run_huey`` (4 workers) in a minimal Django project on plain Huey
    (``benchmarks.plain_django``), read ``settle`` seconds after it says it started."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.plain_django",
        "BENCH_PLAIN_HUEY_URL": queue_url,
        "BENCH_PLAIN_DB": str(Path(work) / "plain-django.sqlite3"),
    }
    log_path = Path(work) / "plain-django.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_huey", "-w", "4"],
            cwd=rig.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            if not rig.wait_for(lambda: b"consumer started" in log_path.read_bytes().lower(), timeout=60):
                raise RuntimeError(f"plain Huey's run_huey did not start in 60 s; see {log_path}")
            time.sleep(settle)
            return rig.rss_mb(proc.pid)
        finally:
            rig.interrupt(proc)
