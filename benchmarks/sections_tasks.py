"""Section 7 of ``make bench``: standard-API tasks by backend, durable tasks under kill -9, their idle pickup."""

from benchmarks import rig, task_drain
from benchmarks.stats import median


def section_tasks(table, work, plain_cost, P):  # noqa: N803 - P: the run's parameters (benchmarks.__main__)
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
def section_durable_kill(table, work, quick):
    """kill -9 five times during 2,000 one-second tasks (quick: fewer, shorter): 0 lost, re-runs <= in flight."""
    print("7. durable tasks under kill -9", flush=True)
    from benchmarks import durable_kill

    kill = {"n": 100, "seconds": 0.3, "kills": 2} if quick else {"n": 2000, "seconds": 1.0, "kills": 5}
    f = durable_kill.run(work, rig.sqlite_url(work / "durable-kill-queue.sqlite3"), **kill)
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


def section_durable_pickup(table, work, storages, P):  # noqa: N803
    """Idle pickup of a durable task: ``enqueue()`` to its start on an idle 4-worker consumer."""
    print("7. durable idle pickup", flush=True)
    for name, url in storages.items():
        rig.use_database(work / "durable-pickup.sqlite3")
        _, p95 = task_drain.pickup(work, url["plain"], n=P["pickups"] * 2)
        table.row("7 tasks", f"idle pickup of a durable task, p95, {name}", p95, "ms", target=("<=", 20, "ms"))
