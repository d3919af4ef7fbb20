"""``python -m benchmarks`` (``make bench``): measure, print the table, write docs/benchmarks.md.

``BENCH_QUICK=1`` runs every section once on small batches (a smoke run, not figures to quote): it prints its
table and leaves docs/benchmarks.md as it is.
"""

import argparse
import importlib.util
import sys
import time

from benchmarks import drain, enqueue, footprint, machine, pickup, request_cost, rig
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


SECTIONS = ("enqueue", "request", "drain", "pickup", "footprint", "reports", "tasks", "images", "webhooks")
SECTIONS += ("isolation", "goals", "flows")


def main(argv):
    """Every section, or ``--only NAME[,NAME]`` of ``SECTIONS``: printed, and docs/benchmarks.md written only
    by a whole run (not a quick one), with the run it replaces beside it."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=main.__doc__)
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"sections to run, of: {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)  # --help, or anything else it does not know, stops here, before a 35-minute run
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    if only - set(SECTIONS):
        sys.exit(f"unknown section(s) {', '.join(sorted(only - set(SECTIONS)))}; choose from {', '.join(SECTIONS)}")
    work = rig.setup("bench")
    started = time.monotonic()
    sink, slow = Sink().start(), Sink().start()
    storages = {
        "SQLite": {"outbox": rig.sqlite_url(work / "huey.sqlite3"), "plain": rig.sqlite_url(work / "plain.sqlite3")},
        "Redis": {"outbox": rig.REDIS_URL, "plain": rig.REDIS_URL},
    }
    table = Table(machine.describe(), QUICK, P)
    try:
        run_sections(only, table, work, storages, sink, slow)
    finally:
        sink.stop()
        slow.stop()
    table.note(f"Whole run: {time.monotonic() - started:.0f} s; load average at the end {machine.load()}.")
    print(table.text())
    if only == set(SECTIONS) and not QUICK:  # a smoke run's figures are not to quote: they replace nothing
        table.write(rig.BASE_DIR / "docs" / "benchmarks.md")


def run_sections(only, table, work, storages, sink, slow):
    from benchmarks import goals, sections_tasks

    plain_cost = section_enqueue(table, storages) if only & {"enqueue", "request", "tasks"} else {}
    steps = [
        ("request", lambda: section_request(table, slow, plain_cost["SQLite"])),
        ("drain", lambda: section_drain(table, work, sink, storages)),
        ("pickup", lambda: section_pickup(table, work, sink, storages)),
        ("footprint", lambda: section_footprint(table, work, sink)),
        ("reports", lambda: section_reports(table)),
        ("tasks", lambda: sections_tasks.section_tasks(table, work, plain_cost, P)),
        ("tasks", lambda: sections_tasks.section_durable_kill(table, work, QUICK)),
        ("tasks", lambda: sections_tasks.section_durable_pickup(table, work, storages, P)),
        ("images", lambda: section_images(table)),
        ("webhooks", lambda: section_webhooks(table)),
        ("isolation", lambda: section_isolation(table)),
        ("goals", lambda: goals.section_goals(table, work, storages, QUICK)),
        ("flows", lambda: goals.section_flows(table, work, storages, QUICK)),
    ]
    for name, step in steps:
        if name in only:
            step()


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
    one = median([r["rate"] for r in results[("loop", 1)]])
    ceiling = median([r["rate"] for r in results[("loop", 4)]])
    table.row("3 drain", f"plain loop, one SMTP connection, {P['drain']:,} e-mails", one, "e-mails/s")
    table.row(
        "3 drain",
        f"plain loops, four SMTP connections in parallel (threads), {P['drain']:,} e-mails",
        ceiling,
        "e-mails/s",
        "one connection",
        one,
    )
    for name in storages:
        plain = median([r["rate"] for r in results[("plain huey", name)]])
        table.row("3 drain", f"plain Huey, 4 workers, {name}", plain, "e-mails/s", "four plain connections", ceiling)
        for workers in WORKERS:
            runs = results[("outbox", name, workers)]
            value = median([r["rate"] for r in runs])
            table.row(
                "3 drain",
                f"outbox, {workers} worker(s), {name}",
                value,
                "e-mails/s",
                "four plain connections",
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
