"""Scenario 11: kill -9 of a consumer running standard-API tasks, on each queue storage: all finish, each re-run at most once."""

from benchmarks import durable_kill, rig
from benchmarks.faults.common import Result


def run(work, n, seconds, kills):
    result = Result("11. kill -9 while standard-API (durable) tasks run")
    for storage, url in (("SQLite", rig.sqlite_url(work / "durable-kill-queue.sqlite3")), ("Redis", rig.REDIS_URL)):
        f = durable_kill.run(work, url, n, seconds, kills)
        result.figures[storage] = f
        result.check(f["all successful"], f"{storage}: not every task ended SUCCESSFUL: {f['rows']}")
        result.check(f["lost (never finished)"] == 0, f"{storage}: {f['lost (never finished)']} tasks never finished")
        result.check(f["most runs of one task"] <= 2, f"{storage}: a task ran {f['most runs of one task']} times")
        bound = sum(f["in flight at each kill"])
        result.check(f["re-runs"] <= bound, f"{storage}: {f['re-runs']} re-runs > {bound} tasks in flight at the kills")
    return result
