"""Sections 11 and 12 of ``make bench``: issue 18's goals (a durable task's cost against plain Huey's, on both
queue storages) and issue 17's (bulk enqueue, a batch's drain, a chain's hand-over). Each row is the figure,
its baseline measured in the same run, the ratio and met/MISSED. ``python -m benchmarks --only goals`` (or
``flows``) runs one of them alone.
"""

from benchmarks import enqueue, flow_bench, noop_drain, rig, task_drain, task_pickup
from benchmarks.stats import median, percentile

FULL = {"noop": 3000, "rounds": 3, "enqueues": 2000, "pickups": 40, "memory": 100000, "batch": 1000, "steps": 30}
QUICK = {"noop": 500, "rounds": 1, "enqueues": 300, "pickups": 6, "memory": 5000, "batch": 300, "steps": 10}


def section_goals(table, work, storages, quick):
    """Issue 18: no-op drain, enqueue cost, idle pickup and memory of durable tasks against plain Huey."""
    p = QUICK if quick else FULL
    print("11. durable tasks against plain Huey (issue 18)", flush=True)
    for name, url in storages.items():
        _noop_drain(table, work, name, url["plain"], p)
        _enqueue(table, work, name, url, p)
        _pickup(table, work, name, url["plain"], p)
    _memory(table, work, rig.sqlite_url(work / "memory-queue.sqlite3"), p)


def _noop_drain(table, work, name, url, p):
    runs = noop_drain.run(work, url, p["noop"], p["rounds"])
    ours, plain = (median([r["rate"] or 0 for r in runs[k]]) for k in ("durable", "plain"))
    table.row(
        "11 issue 18",
        f"durable no-op drain, {p['noop']:,} a round, consumer defaults, {name}",
        ours,
        "tasks/s",
        "plain Huey @db_task no-ops, same consumer",
        plain,
        target=(">=", plain, "tasks/s"),
    )
    cpu = {k: median([r["cpu_us"] for r in runs[k]]) for k in runs}
    table.note(
        f"No-op drain {name}: consumer CPU per task {cpu['durable']:.0f} µs durable, {cpu['plain']:.0f} µs plain."
    )


def _enqueue(table, work, name, urls, p):
    rig.use_database(work / "goals-enqueue.sqlite3")
    rig.use_queue(urls["outbox"])  # the site's queue; plain Huey has a file of its own (as in section 2)
    ours = median([median(task_drain.enqueue_cost("default", p["enqueues"])) * 1e6 for _ in range(p["rounds"])])
    plain = median([median(enqueue.plain(urls["plain"], p["enqueues"], True)) * 1e6 for _ in range(p["rounds"])])
    table.row(
        "11 issue 18",
        f"durable enqueue() in its own transaction, {name}",
        ours,
        "µs",
        f"plain Huey INSERT + enqueue, {name}",
        plain,
        target=("<=", plain, "µs"),
    )


def _pickup(table, work, name, url, p):
    ours, ours_rss = task_pickup.durable(work, url, p["pickups"])
    plain, plain_rss = task_pickup.plain(work, url, p["pickups"])
    table.row(
        "11 issue 18",
        f"idle pickup of a task, enqueue() called to its start, p95, {name}",
        percentile(ours, 95),
        "ms",
        f"plain {'Redis' if name == 'Redis' else 'Sqlite'}Huey, p95",
        percentile(plain, 95),
        target=("<=", percentile(plain, 95), "ms"),
    )
    table.note(
        f"Idle pickup {name}, p50: {percentile(ours, 50):.2f} ms ours, {percentile(plain, 50):.2f} ms plain Huey."
    )
    table.row(
        "11 issue 18",
        f"consumer RSS idle, {name}",
        ours_rss,
        "MB",
        "plain Huey consumer (4 workers)",
        plain_rss,
        target=("<=", plain_rss + 5, "MB"),
    )
    table.row(
        "11 issue 18",
        f"consumer RSS idle beside a Django project, {name}",
        ours_rss,
        "MB",
        "plain Huey in a minimal Django project (run_huey; auth, contenttypes, djhuey)",
        task_pickup.plain_django_rss(work, url),
    )


def _memory(table, work, url, p):
    r = noop_drain.memory(work, url, p["memory"])
    table.row(
        "11 issue 18",
        f"consumer RSS trend over {p['memory']:,} durable no-ops (least squares, 10 % done to the end), SQLite",
        r["trend"],
        "MB",
        target=("<=", 2, "MB"),
    )
    table.note(
        f"Memory over {r['done']:,} no-ops: {r['at_tenth']:.1f} MB at 10 %, {r['end']:.1f} MB at the end, peak "
        f"{r['peak']:.1f} MB; the trend through {r['samples']} samples."
    )


def section_flows(table, work, storages, quick):
    """Issue 17: bulk enqueue, a batch's drain, a chain's hand-over (SQLite database; each queue storage)."""
    p = QUICK if quick else FULL
    print("12. flows (issue 17)", flush=True)
    rig.use_database(work / "flows-enqueue.sqlite3")
    many, one = flow_bench.bulk(p["enqueues"])
    table.row("12 flows", "enqueue_many, per task", many, "µs", "one enqueue()", one, target=("<=", 0.2 * one, "µs"))
    for name, url in storages.items():
        plain = median([flow_bench.drain(work, url["plain"], p["batch"], False) for _ in range(p["rounds"])])
        ours = median([flow_bench.drain(work, url["plain"], p["batch"], True) for _ in range(p["rounds"])])
        table.row(
            "12 flows",
            f"a {p['batch']:,}-member batch drains, {name}",
            ours,
            "tasks/s",
            "the same tasks without a batch",
            plain,
            target=(">=", 0.9 * plain, "tasks/s"),
        )
        gaps = flow_bench.hand_over(work, url["plain"], p["steps"])
        table.row(
            "12 flows",
            f"chain hand-over (a step's end to the next's start), p50, idle consumer, {name}",
            percentile(gaps, 50),
            "ms",
            target=("<=", 5, "ms"),
        )
