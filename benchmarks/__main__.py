"""``python -m benchmarks`` (``make bench``): measure, print the table, write docs/benchmarks.md.

``BENCH_QUICK=1`` runs every section once on small batches (a smoke run, not figures to quote).
"""

import importlib.util
import sys
import time

from benchmarks import drain, enqueue, footprint, machine, pickup, request_cost, rig, task_drain
from benchmarks.report import Table
from benchmarks.sink import Sink
from benchmarks.stats import median, percentile

QUICK = rig.quick("BENCH_QUICK")
P = (
    {
        "runs": 1,
        "requests": 200,
        "inline": 5,
        "enqueues": 500,
        "drain": 1000,
        "pickups": 6,
        "idle": 5,
        "footprint": 1000,
        "tasks": 300,
    }
    if QUICK
    else {
        "runs": 3,
        "requests": 500,
        "inline": 15,
        "enqueues": 2000,
        "drain": 10000,
        "pickups": 12,
        "idle": 15,
        "footprint": 10000,
        "tasks": 2000,
    }
)
WORKERS = (1, 2, 4)


def med_pct(runs, p):
    """Median over runs of each run's ``p``-th percentile, in ms."""
    return median([percentile(r, p) * 1000 for r in runs])


def main():
    work = rig.setup("bench")
    started = time.monotonic()
    sink, slow = Sink().start(), Sink().start()
    storages = {
        "SQLite": {"outbox": rig.sqlite_url(work / "huey.sqlite3"), "plain": rig.sqlite_url(work / "plain.sqlite3")},
        "Redis": {"outbox": rig.REDIS_URL, "plain": rig.REDIS_URL},
    }
    table = Table(machine.describe(), QUICK, P)
    try:
        plain_cost = section_enqueue(table, storages)
        section_request(table, slow, plain_cost["SQLite"])
        section_drain(table, work, sink, storages)
        section_pickup(table, work, sink, storages)
        section_footprint(table, work, sink)
        section_reports(table)
        section_tasks(table, work, plain_cost)
        section_durable_kill(table, work)
        section_durable_pickup(table, work, storages)
        section_images(table)
        section_webhooks(table)
        section_isolation(table)
    finally:
        sink.stop()
        slow.stop()
    table.note(f"Whole run: {time.monotonic() - started:.0f} s.")
    print(table.text())
    table.write(rig.BASE_DIR / "docs" / "benchmarks.md")


def section_request(table, slow, plain_cost_us):
    print("1. request cost", flush=True)
    rig.use_queue(rig.sqlite_url(rig.VAR / "bench" / "huey.sqlite3"))
    runs = [request_cost.run(slow, P["requests"], P["inline"]) for _ in range(P["runs"])]
    nothing = {p: med_pct([r["nothing"] for r in runs], p) for p in (50, 95)}
    for view, label in (
        ("outbox", "view sending one e-mail via the outbox"),
        ("inline", "same view, inline SMTP (relay takes 200 ms)"),
    ):
        for p in (50, 95):
            value = med_pct([r[view] for r in runs], p)
            table.row("1 request", f"{label}, p{p}", value, "ms", "view sending nothing", nothing[p], ratio_kind="x")
    for p in (50, 95):
        extra = med_pct([r["outbox"] for r in runs], p) - nothing[p]
        table.row(
            "1 request",
            f"added by queuing the e-mail, p{p}",
            extra,
            "ms",
            "plain Huey INSERT + enqueue, SQLite",
            plain_cost_us / 1000,
            target=("<=", plain_cost_us / 1000, "ms") if p == 50 else None,
        )


def section_enqueue(table, storages):
    print("2. enqueue cost", flush=True)
    plain_cost = {}
    for name, url in storages.items():
        ours = median([median(enqueue.outbox(url["outbox"], P["enqueues"])) * 1e6 for _ in range(P["runs"])])
        plain = median([median(enqueue.plain(url["plain"], P["enqueues"], False)) * 1e6 for _ in range(P["runs"])])
        with_row = median([median(enqueue.plain(url["plain"], P["enqueues"], True)) * 1e6 for _ in range(P["runs"])])
        table.row("2 enqueue", f"plain Huey enqueue only, {name}", plain, "µs")
        table.row(
            "2 enqueue",
            f"send_mail() to the outbox, {name}",
            ours,
            "µs",
            f"plain Huey INSERT + enqueue, {name}",
            with_row,
            target=("<=", with_row, "µs"),
        )
        plain_cost[name] = with_row
    return plain_cost


def section_drain(table, work, sink, storages):
    print("3. drain", flush=True)
    results = drain.run(work, sink, P["drain"], P["runs"], storages, WORKERS)
    ceiling = median([r["rate"] for r in results[("loop",)]])
    table.row("3 drain", f"plain loop, one SMTP connection, {P['drain']:,} e-mails", ceiling, "e-mails/s")
    for name in storages:
        plain = median([r["rate"] for r in results[("plain huey", name)]])
        table.row("3 drain", f"plain Huey, 4 workers, {name}", plain, "e-mails/s", "plain loop", ceiling)
        for workers in WORKERS:
            runs = results[("outbox", name, workers)]
            value = median([r["rate"] for r in runs])
            table.row(
                "3 drain",
                f"outbox, {workers} worker(s), {name}",
                value,
                "e-mails/s",
                "plain loop",
                ceiling,
                target=(">=", 0.9 * ceiling, "e-mails/s") if workers == 4 else None,
            )
            table.row("3 drain", f"  vs plain Huey, {workers} worker(s), {name}", value / plain if plain else None, "x")
            dup = sum(r["duplicates"] for r in runs)
            lost = sum(P["drain"] - r["arrived"] for r in runs)
            unsent = sum(not r["all_rows_sent"] for r in runs)
            if dup or lost or unsent:
                table.note(
                    f"Drain {name} {workers}w: {lost} lost, {dup} duplicates, {unsent} runs with rows not marked sent."
                )
        table.row(
            "5 footprint",
            f"consumer peak RSS draining, 4 workers, {name}",
            median([r["peak_rss_mb"] for r in results[("outbox", name, 4)]]),
            "MB",
            "plain Huey consumer",
            median([r["peak_rss_mb"] for r in results[("plain huey", name)]]),
            target=("<=", 60, "MB"),
        )


def section_pickup(table, work, sink, storages):
    print("4. idle pickup", flush=True)
    targets = {"SQLite": 100, "Redis": 10}
    for name, url in storages.items():
        runs = [
            pickup.run(work, sink, url["outbox"], P["pickups"], P["idle"]) for _ in range(P["runs"] if not QUICK else 1)
        ]
        for key, label in (
            ("task_starts", "send_mail() to task start"),
            ("latencies", "send_mail() to e-mail at the relay"),
        ):
            for p in (50, 95):
                value = med_pct([r[key] for r in runs], p)
                target = ("<=", targets[name], "ms") if p == 95 else None
                table.row("4 pickup", f"idle pickup, {label}, p{p}, {name}", value, "ms", target=target)
        cpu = median([r["idle_cpu_pct"] for r in runs])
        table.row("4 pickup", f"idle consumer CPU, {name}", cpu, "%", target=("<=", 0.5, "%"))
        table.row(
            "5 footprint",
            f"consumer RSS idle, {name}",
            median([r["idle_rss_mb"] for r in runs]),
            "MB",
            target=("<=", 60, "MB"),
        )


def section_footprint(table, work, sink):
    print("5. footprint", flush=True)
    r = footprint.run(work, sink, P["footprint"])
    per = 10000 / P["footprint"]
    table.row("5 footprint", "consumer RSS idle, fresh start, SQLite", r["idle_rss_mb"], "MB", target=("<=", 60, "MB"))
    table.row(
        "5 footprint", "consumer peak RSS, enqueue while draining", r["peak_rss_mb"], "MB", target=("<=", 60, "MB")
    )
    table.row("5 footprint", "database growth per 10,000 e-mails (live pages)", r["db_growth"] * per / 2**20, "MiB")
    table.row(
        "5 footprint", "queue file growth per 10,000 e-mails (live pages)", r["queue_growth"] * per / 2**20, "MiB"
    )
    table.row("5 footprint", "database file after the drain", r["db_file_after"] / 2**20, "MiB")
    table.row("5 footprint", "database live growth after the daily cleanup", r["db_after_cleanup"] / 2**20, "MiB")
    table.row(
        "5 footprint",
        "database file after the daily cleanup (pages reused, not returned)",
        r["db_file_after_cleanup"] / 2**20,
        "MiB",
    )
    table.note(f"Footprint: {r['pruned']:,} rows pruned by the cleanup run a month later.")


def section_reports(table):
    """Section 6 lives in benchmarks/bench_reports.py (its own issue); run it when it is there."""
    if importlib.util.find_spec("benchmarks.bench_reports") is None:
        table.note("6. Reports: benchmarks/bench_reports.py is not in this checkout yet.")
        return
    print("6. reports", flush=True)
    from benchmarks import bench_reports

    table.extra(bench_reports.run(quick=QUICK))


def section_images(table):
    """Section 8 lives in benchmarks/images.py: thumbnails per second, consumer RSS, e-mail pickup beside images."""
    print("8. images", flush=True)
    from benchmarks import images

    table.extra(images.run(quick=QUICK))


def section_isolation(table):
    """Section 10 lives in benchmarks/isolation.py: e-mail pickup while 20 CPU-bound tasks run, with and without
    the reserved worker."""
    print("10. isolation", flush=True)
    from benchmarks import isolation

    table.extra(isolation.run(quick=QUICK))


def section_webhooks(table):
    """Section 9 lives in benchmarks/webhooks.py: deliveries per second, draining after a receiver outage."""
    print("9. webhooks", flush=True)
    from benchmarks import webhooks

    table.extra(webhooks.run(quick=QUICK))


def section_tasks(table, work, plain_cost):
    """Standard-API tasks: our default backend against HueyBackend and django-tasks-db on the same database."""
    print("7. standard-API tasks", flush=True)
    rig.use_database(work / "tasks-enqueue.sqlite3")
    rig.use_queue(rig.sqlite_url(work / "tasks-enqueue-queue.sqlite3"))
    ours = task_drain.backend_name("default")
    for alias in ("default", "huey", "db"):
        cost = median([median(task_drain.enqueue_cost(alias, P["enqueues"])) * 1e6 for _ in range(P["runs"])])
        table.row(
            "7 tasks",
            f"enqueue() of a no-op task, {task_drain.backend_name(alias)}, SQLite",
            cost,
            "µs",
            "plain Huey INSERT + enqueue, SQLite",
            plain_cost["SQLite"],
            target=("<=", plain_cost["SQLite"], "µs") if alias == "default" else None,
        )
    rates = {}
    for alias, workers in (("default", 4), ("huey", 4), ("db", 1), ("db", 4)):
        runs = [task_drain.drain(work, alias, P["tasks"], workers) for _ in range(P["runs"])]
        rates[(alias, workers)] = median([r["rate"] or 0 for r in runs])
        lost = sum(P["tasks"] - r["successful"] for r in runs)
        if lost:
            table.note(f"Tasks {alias} {workers}w: {lost} of {P['tasks'] * len(runs)} did not finish SUCCESSFUL.")
    huey, db = rates[("huey", 4)], max(rates[("db", 1)], rates[("db", 4)])
    table.row("7 tasks", "no-op drain, HueyBackend (at-most-once), 4 workers, SQLite", huey, "tasks/s")
    table.row("7 tasks", "no-op drain, django-tasks-db db_worker, 1 process, SQLite", rates[("db", 1)], "tasks/s")
    table.row("7 tasks", "no-op drain, django-tasks-db db_worker, 4 processes, SQLite", rates[("db", 4)], "tasks/s")
    value = rates[("default", 4)]
    table.row(
        "7 tasks",
        f"no-op drain, {ours}, 4 workers, SQLite",
        value,
        "tasks/s",
        "HueyBackend, 4 workers",
        huey,
        target=(">=", 0.7 * huey, "tasks/s"),
    )
    table.row(
        "7 tasks",
        f"  vs django-tasks-db (its better of 1 and 4 processes), {ours}",
        value,
        "tasks/s",
        "django-tasks-db",
        db,
        target=(">=", 5 * db, "tasks/s"),
    )


# --- Section 7, continued: durable tasks under kill -9, and their idle pickup (issue 10) --------------------
KILL = {"n": 100, "seconds": 0.3, "kills": 2} if QUICK else {"n": 2000, "seconds": 1.0, "kills": 5}


def section_durable_kill(table, work):
    """kill -9 five times during 2,000 one-second tasks (quick: fewer, shorter): 0 lost, re-runs <= in flight."""
    print("7. durable tasks under kill -9", flush=True)
    from benchmarks import durable_kill

    f = durable_kill.run(work, rig.sqlite_url(work / "durable-kill-queue.sqlite3"), **KILL)
    label = f"{f['kills']} kill -9 during {f['tasks']} tasks of {f['seconds each']:g} s, 4 workers, SQLite"
    table.row("7 tasks", f"{label}: lost", f["lost (never finished)"], "tasks", target=("<=", 0, "tasks"))
    bound = sum(f["in flight at each kill"])
    table.row(
        "7 tasks",
        f"{label}: re-runs",
        f["re-runs"],
        "runs",
        "in flight at the kills",
        bound,
        target=("<=", bound, "runs"),
    )
    table.note(f"kill -9 of durable tasks: {f}")


def section_durable_pickup(table, work, storages):
    """Idle pickup of a durable task: ``enqueue()`` to its start on an idle 4-worker consumer."""
    print("7. durable idle pickup", flush=True)
    for name, url in storages.items():
        rig.use_database(work / "durable-pickup.sqlite3")
        _, p95 = task_drain.pickup(work, url["plain"], n=P["pickups"] * 2)
        table.row("7 tasks", f"idle pickup of a durable task, p95, {name}", p95, "ms", target=("<=", 20, "ms"))


if __name__ == "__main__":
    sys.exit(main())
