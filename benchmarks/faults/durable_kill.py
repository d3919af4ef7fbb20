"""Scenario 11: kill -9 of a consumer running standard-API tasks: all finish, each re-run at most once."""

from benchmarks import durable_kill, rig
from benchmarks.faults.common import Result


def run(work, n, seconds, kills):
    result = Result("11. kill -9 while standard-API (durable) tasks run")
    f = durable_kill.run(work, rig.sqlite_url(work / "durable-kill-queue.sqlite3"), n, seconds, kills)
    result.figures = f
    result.check(f["all successful"], f"not every task ended SUCCESSFUL: {f['rows']}")
    result.check(f["lost (never finished)"] == 0, f"{f['lost (never finished)']} tasks never finished")
    result.check(f["most runs of one task"] <= 2, f"a task ran {f['most runs of one task']} times")
    bound = sum(f["in flight at each kill"])
    result.check(f["re-runs"] <= bound, f"{f['re-runs']} re-runs > {bound} tasks in flight at the kills")
    return result
