"""Slow work and e-mail (issue 10 part 5): send_mail() -> relay while 20 CPU-bound tasks run on a 4-worker consumer.

``python -m benchmarks.isolation [--tasks 20] [--seconds 15] [--mails 25]`` prints a Markdown section;
``run(quick)`` returns it for ``make bench``. A real consumer (``manage.py run_huey``, 4 thread workers)
on SQLite, each queue storage (SQLite, Redis); e-mail to an SMTP sink in a process of its own.

The tasks are pure Python arithmetic (``benchmarks.isolation_tasks.spin``): they hold the GIL, so the
worker that sends the e-mail competes with them for it (Python's switch interval, 5 ms). Once the
consumer is steady (the tasks it may run are running, its queue empty), an e-mail is sent every 0.2 s
and its arrival timed. Rows:

- idle: no tasks (the baseline);
- reserved worker: the default rule (DURABLE_RESERVED_WORKERS=1; the tasks' group capped at 20, so no cap),
  at the consumer's switch interval (DURABLE_SWITCH_INTERVAL_MS, 1 ms) and at Python's own 5 ms;
- group cap 3: no reserved worker, the tasks' group capped at 3 of the 4 workers;
- no rule: no reserved worker, no cap: every worker runs a task, and e-mail waits for a worker to come
  free: a task's end at best (``--seconds`` here, a minute for one-minute tasks), the whole backlog at worst
  (a worker that ends a task claims the next).
"""

import argparse
import os
import sys
import time

from benchmarks import rig
from benchmarks.stats import fmt, percentile

NAME = "isolation"
WORKERS = 4
CASES = (  # label, tasks?, consumer environment
    ("idle", False, {}),
    ("reserved worker (default)", True, {"DURABLE_GROUP_LIMITS": "spin=20"}),
    (
        "reserved worker, Python's 5 ms switch interval",
        True,
        {"DURABLE_GROUP_LIMITS": "spin=20", "DURABLE_SWITCH_INTERVAL_MS": "5"},
    ),
    ("group cap 3, none reserved", True, {"DURABLE_RESERVED_WORKERS": "0", "DURABLE_GROUP_LIMITS": "spin=3"}),
    ("no rule (none reserved, no cap)", True, {"DURABLE_RESERVED_WORKERS": "0", "DURABLE_GROUP_LIMITS": "spin=20"}),
)


def running():
    from durable.models import Task

    return Task.objects.filter(status=Task.Status.RUNNING).count()


def measure(work, sink, label, with_tasks, env, args):
    """Start a consumer, queue the tasks, wait for steady state, time ``args.mails`` e-mails; stop it all."""
    from django.core.mail import send_mail
    from huey.contrib.djhuey import HUEY

    from benchmarks.isolation_tasks import spin
    from durable.models import Task

    rig.clear_outbox()
    Task.objects.all().delete()
    sink.reset()
    n = len(list(work.glob("stop-*")))
    stop = work / f"stop-{n}"
    consumer = rig.start_consumer(work, sink.url, f"consumer-{n}", workers=WORKERS, **env)
    try:
        if with_tasks:
            for _ in range(args.tasks):
                spin.enqueue(str(stop), args.seconds)
            rig.wait_for(lambda: running() >= WORKERS - 1, timeout=30)
            time.sleep(1)  # the consumer takes what it may (all four, without a rule)
        busy = running()
        if busy < WORKERS:  # steady: start-up work done, the wake-ups it may not act on taken
            rig.wait_for(lambda: HUEY.pending_count() == 0, timeout=30)
        time.sleep(0.5)
        sent = {}
        for i in range(args.mails):
            subject = f"{label} {i}"
            sent[subject] = time.time()
            send_mail(subject, "Body", "from@example.com", ["to@example.com"])
            time.sleep(0.2)
        sink.wait_for(args.mails, timeout=args.seconds + 60)
        still = running()
        latencies = [sink.arrival(s) - t for s, t in sent.items() if sink.arrival(s)]
        return {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "max": max(latencies, default=None),
            "n": len(latencies),
            "busy": busy,
            "still": still,
        }
    finally:
        stop.touch()  # the tasks end within 0.2 s; the stop (SIGINT) lets them record it
        consumer.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15, help="each task's length (the real case: 60)")
    parser.add_argument("--mails", type=int, default=25)
    parser.add_argument("--queues", default="sqlite,redis")
    parser.add_argument("--switch-ms", default="", help="DURABLE_SWITCH_INTERVAL_MS for the consumers")
    parser.add_argument("--cases", default="", help="labels' first words to run (default: all)")
    args = parser.parse_args()
    work = rig.setup(NAME)
    from benchmarks.sink import Sink

    sink = Sink().start()
    rows = []
    try:
        for queue in args.queues.split(","):
            rig.use_queue(rig.sqlite_url(work / "huey.sqlite3") if queue == "sqlite" else rig.REDIS_URL)
            for label, with_tasks, env in CASES:
                if args.cases and label.split()[0] not in args.cases.split(","):
                    continue
                if args.switch_ms:
                    env = {"DURABLE_SWITCH_INTERVAL_MS": args.switch_ms, **env}
                r = measure(work, sink, label, with_tasks, env, args)
                what = f"{args.tasks} CPU-bound tasks, {label}" if with_tasks else "idle consumer"
                rows.append(
                    (
                        f"e-mail send_mail -> relay p50 / p95 (max), {queue} queue, {what}",
                        f"{fmt(r['p50'] * 1000, 'ms')} / {fmt(r['p95'] * 1000, 'ms')} ({fmt(r['max'] * 1000, 'ms')}); "
                        f"{r['n']} e-mails, {r['busy']} of {WORKERS} workers running tasks ({r['still']} at the end)",
                    )
                )
                print(rows[-1], file=sys.stderr, flush=True)
    finally:
        sink.stop()
    print("| measure | value |\n|---|---|")
    for measure_, value in rows:
        print(f"| {measure_} | {value} |")
    print(
        f"\nPython {sys.version.split()[0]} (switch interval {sys.getswitchinterval() * 1000:g} ms), "
        f"{os.cpu_count()} CPUs, SQLite database, {WORKERS} thread workers; tasks of {args.seconds:g} s."
    )


def run(quick=False):
    """The isolation section of ``make bench``: this module in a process of its own; returns its Markdown."""
    extra = ["--mails", "10", "--seconds", "8"] if quick else []
    return rig.section_in_process("Slow work and e-mail (issue 10 part 5)", ["-m", "benchmarks.isolation", *extra])


if __name__ == "__main__":
    main()
