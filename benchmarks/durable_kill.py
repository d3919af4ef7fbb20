"""kill -9 of a consumer running standard-API tasks, again and again: none lost, re-runs bounded by what ran.

``run(work, n, seconds, kills)`` enqueues ``n`` durable tasks of about ``seconds`` each
(``benchmarks.sleepy_tasks.sleepy``), starts a 4-worker consumer, and ``kills`` times waits for a
further share of them to finish, kills the consumer with SIGKILL and starts another on the same
host (which takes the dead one's tasks back at once). Each run marks its start and end in a file,
so a run cut off by a kill is counted even though its row never said so. Used by ``make faults``
(scenario 11) and ``make bench`` (section 7).
"""

import signal
import time
from collections import Counter
from pathlib import Path

from benchmarks import rig


def _marks(path):
    """``(starts, ends)``: runs started and ended, per task."""
    starts, ends = Counter(), Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            kind, i, _ = line.split()
            (starts if kind == "start" else ends)[int(i)] += 1
    return starts, ends


def cut_off(path, pid):
    """After ``pid`` was killed: the tasks it had started whose outcome it had not recorded (their rows it still held).

    A task whose end mark was written but whose outcome was not is counted: it will run again.
    """
    from durable.leases import HOST
    from durable.models import Task

    held = {
        args[0]
        for args in Task.objects.filter(status="running", claimed_by=f"{HOST}:{pid}").values_list("args", flat=True)
    }
    started = {
        int(i)
        for kind, i, p in (line.split() for line in path.read_text().splitlines())
        if kind == "start" and int(p) == pid
    }
    return len(held & started)


def run(work, queue_url, n, seconds, kills, workers=4):
    """Figures of one run: lost, re-runs, tasks in flight at each kill, every row successful."""
    from benchmarks.sleepy_tasks import sleepy
    from durable.models import Task

    rig.use_database(Path(work) / "durable-kill.sqlite3")
    rig.use_queue(queue_url)
    path = Path(work) / "durable-kill.marks"
    path.unlink(missing_ok=True)
    for i in range(n):
        sleepy.enqueue(i, seconds, str(path))
    began = time.monotonic()
    consumer = rig.start_consumer(work, "dummymail://", "durable-kill", workers=workers)
    in_flight = []
    try:
        for k in range(kills):
            share = (k + 1) * n // (kills + 1)
            rig.wait_for(
                lambda share=share: sum(_marks(path)[1].values()) >= share, timeout=60 + n * seconds, interval=0.05
            )
            consumer.kill()
            in_flight.append(cut_off(path, consumer.pid))
            consumer = rig.start_consumer(work, "dummymail://", "durable-kill", workers=workers)
        done = rig.wait_for(
            lambda: Task.objects.filter(name="benchmarks.sleepy_tasks.sleepy", status="successful").count() == n,
            timeout=120 + n * seconds / workers * 2,
            interval=0.2,
        )
    finally:
        consumer.stop(signal.SIGINT, timeout=30)
    took = time.monotonic() - began
    starts, ends = _marks(path)
    statuses = Counter(Task.objects.values_list("status", flat=True))
    return {
        "tasks": n,
        "seconds each": seconds,
        "kills": kills,
        "in flight at each kill": in_flight,
        "lost (never finished)": sum(1 for i in range(n) if not ends[i]),
        "re-runs": sum(starts.values()) - n,
        "most runs of one task": max(starts.values(), default=0),
        "rows": dict(statuses),
        "all successful": bool(done),
        "took (s)": round(took, 1),
    }
