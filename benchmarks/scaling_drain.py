"""Consumers as separate processes on separate hosts, sharing one PostgreSQL database and one Redis queue.

``point(...)``: e-mails (to the loopback sink) or no-op durable tasks drained per second by ``k`` consumer
processes, spread over two host names (``testing.consumer.as_host``), each at its default 4 workers. The rows
are queued first, held back (due later) while every consumer starts, then made due at once and the consumers
woken as after a queue outage (``durable.lifeline.queue_is_back``), so nobody's start-up is counted. Checked
from the rows and the sink: 0 lost, 0 twice.

``host_killed(...)``: two hosts of two consumers each; once host A holds tasks and e-mails, all its consumers
are killed with SIGKILL and never restarted. How long until host B finished every row A held, and how many
ran twice (only rows A held may: at-least-once).
"""

import os
import signal
import time
from collections import Counter
from datetime import timedelta

from benchmarks import rig

HOSTS = ("bench-host-a", "bench-host-b")
LATER = timedelta(days=1)
NOOP = "benchmarks.noop_tasks.noop"


def _start(work, sink, k, label, **extra):
    """``k`` consumers (4 workers each), alternately on each host name, all ready; returns them."""
    from testing.consumer import Consumer, consumer_env

    env = consumer_env(os.environ["DATABASE_URL"], os.environ["HUEY_URL"], sink.url, HUEY_WORKERS=4, **extra)
    consumers = [Consumer(env, work / f"{label}-{i}.log", host=HOSTS[i % 2]).start(wait=False) for i in range(k)]
    try:
        for consumer in consumers:
            consumer.wait_for_log(f"consumer {consumer.pid} ready", timeout=60)
    except Exception:
        for consumer in consumers:
            consumer.kill()  # never leave a consumer behind that did not come up in time
        raise
    return consumers


def _release(model, k):
    """Make the held-back rows due now and wake the consumers, as each would at its start."""
    from django.utils import timezone

    from durable import lifeline

    model.objects.filter(status="queued").update(due_at=timezone.now())
    for _ in range(k):
        lifeline.queue_is_back()


def _queue_mail(n):
    from django.core.mail import send_mail
    from django.db import transaction

    from notifications.models import Message

    Message.objects.all().delete()
    for start in range(0, n, 500):
        with transaction.atomic():
            for i in range(start, min(start + 500, n)):
                send_mail(f"scale {i}", "Body", "from@example.com", [f"user{i}@example.com"])
    return Message


def _queue_tasks(n):
    from django.db import transaction

    from benchmarks.noop_tasks import noop
    from durable.models import Task

    Task.objects.all().delete()
    for start in range(0, n, 500):
        with transaction.atomic():
            for i in range(start, min(start + 500, n)):
                noop.enqueue(i)
    return Task


def _mail_figures(sink, n):
    from notifications.models import Message

    rig.wait_for(lambda: sink.count() >= n, timeout=max(120, n / 20), interval=0.1)
    rig.wait_for(lambda: Message.objects.filter(status="sent").count() >= n, timeout=30, interval=0.1)
    times, subjects = sink.times(), sink.subjects()
    return {
        "rate": (len(times) - 1) / (max(times) - min(times)),
        "lost": n - sum(1 for i in range(n) if subjects.get(f"scale {i}")),
        "twice": sum(c - 1 for c in subjects.values()),
    }


def _task_figures(n):
    from django.db.models import Max, Min

    from durable.models import Task

    noops = Task.objects.filter(name=NOOP)  # not the site's own periodic tasks, which may run meanwhile
    rig.wait_for(lambda: noops.filter(finished_at__isnull=False).count() >= n, timeout=max(120, n / 20))
    span = noops.aggregate(first=Min("started_at"), last=Max("finished_at"))
    return {
        "rate": (n - 1) / (span["last"] - span["first"]).total_seconds(),
        "lost": n - noops.filter(status="successful").count(),
        "twice": noops.filter(attempts__gt=1).count(),
    }


def point(work, sink, kind, k, n):
    """One point of the curve: ``kind`` ("e-mail" or "tasks"), ``k`` consumer processes, ``n`` rows."""
    from django.utils import timezone

    rig.use_queue(rig.REDIS_URL)
    sink.reset()
    model = _queue_mail(n) if kind == "e-mail" else _queue_tasks(n)
    model.objects.update(due_at=timezone.now() + LATER)
    rig.use_queue(rig.REDIS_URL)  # the wake-ups of the enqueues go: the rows are not due yet
    consumers = _start(work, sink, k, f"{kind}-{k}")
    try:
        _release(model, k)
        figures = _mail_figures(sink, n) if kind == "e-mail" else _task_figures(n)
    finally:
        for consumer in consumers:
            consumer.stop(signal.SIGINT, timeout=30)
    return {"kind": kind, "consumers": k, "n": n, **figures}


def _held(model, host):
    running = model.STATES.running
    return set(model.objects.filter(status=running, claimed_by__startswith=f"{host}:").values_list("pk", flat=True))


def host_killed(work, sink, lease, tasks=40, mails=300):
    """Host A (two consumers) killed for good while it holds tasks and e-mails; host B finishes them. Figures."""
    from benchmarks.sleepy_tasks import sleepy
    from durable.models import Task
    from notifications.models import Message

    rig.use_queue(rig.REDIS_URL)
    sink.reset()
    sink.delay(0.02)
    marks = work / "host-killed.marks"
    marks.unlink(missing_ok=True)
    _queue_mail(mails)
    Task.objects.all().delete()
    for i in range(tasks):
        sleepy.enqueue(i, 0.5, str(marks))
    env = {"DURABLE_LEASE_SECONDS": lease, "NOTIFICATIONS_LEASE_SECONDS": lease}
    consumers = _start(work, sink, 4, "host-killed", **env)
    doomed = [c for i, c in enumerate(consumers) if i % 2 == 0]  # HOSTS[0]
    try:
        rig.wait_for(lambda: _held(Task, HOSTS[0]) and _held(Message, HOSTS[0]), timeout=60, interval=0.02)
        for consumer in doomed:
            consumer.kill()
        killed = time.monotonic()
        held_tasks, held_mail = _held(Task, HOSTS[0]), _held(Message, HOSTS[0])

        def finished():
            return not Task.objects.filter(pk__in=held_tasks, finished_at__isnull=True).exists() and not (
                Message.objects.filter(pk__in=held_mail, finished_at__isnull=True).exists()
            )

        rig.wait_for(lambda: not _held(Task, HOSTS[0]) | _held(Message, HOSTS[0]), timeout=lease + 150, interval=0.2)
        taken_back = time.monotonic() - killed
        rig.wait_for(finished, timeout=150, interval=0.2)
        took = time.monotonic() - killed
        rig.wait_for(lambda: sink.count() >= mails and _all_tasks_done(tasks), timeout=120, interval=0.2)
    finally:
        for consumer in consumers:
            consumer.stop(signal.SIGINT, timeout=30)
        sink.delay(0)
    return {
        "lease_s": lease,
        "held_at_kill": f"tasks {len(held_tasks)}, e-mails {len(held_mail)}",
        "taken_back_after_s": round(taken_back, 1),
        "finished_by_b_after_s": round(took, 1),
        "by_b": Task.objects.filter(pk__in=held_tasks, claimed_by__startswith=f"{HOSTS[1]}:").count()
        + Message.objects.filter(pk__in=held_mail, claimed_by__startswith=f"{HOSTS[1]}:").count(),
        **_once(sink, marks, (mails, tasks), (held_tasks, held_mail)),
    }


def _once(sink, marks, counts, held):
    """Lost, twice, and twice beyond the rows the dead host held (which at-least-once allows to run again)."""
    from durable.models import Task
    from notifications.models import Message

    (mails, tasks), (held_tasks, held_mail) = counts, held
    subjects = sink.subjects()
    starts = Counter(line.split()[1] for line in marks.read_text().splitlines() if line.startswith("start"))
    may = set(Message.objects.filter(pk__in=held_mail).values_list("subject", flat=True))
    may |= {str(args[0]) for args in Task.objects.filter(pk__in=held_tasks).values_list("args", flat=True)}
    twice = {s for s, c in subjects.items() if c > 1} | {i for i, c in starts.items() if c > 1}
    return {
        "lost": mails - sum(1 for i in range(mails) if subjects.get(f"scale {i}")) + tasks - len(starts),
        "twice": sum(c - 1 for c in subjects.values()) + sum(c - 1 for c in starts.values()),
        "twice_beyond_held": len(twice - may),
    }


def _all_tasks_done(n):
    from durable.models import Task

    return Task.objects.filter(name="benchmarks.sleepy_tasks.sleepy", status="successful").count() >= n
