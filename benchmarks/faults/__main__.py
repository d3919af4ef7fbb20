"""``python -m benchmarks.faults`` (``make faults``): every scenario, a table, docs/reliability.md.

``FAULTS_QUICK=1`` (``make faults-quick``, for CI) runs the same scenarios smaller and shorter.
Exits 1 when any scenario fails.
"""

import json
import sys
import time
import traceback

from benchmarks import machine, rig
from benchmarks.faults import (
    durable_kill,
    fuzz,
    health_poll,
    kill9,
    midnight,
    pressure,
    redis_restart,
    refusal,
    relay_pace,
    web_load,
)
from benchmarks.faults.common import Result
from benchmarks.sink import Sink

QUICK = rig.quick("FAULTS_QUICK")
P = (
    {
        "kill_n": 1000,
        "kills": 2,
        "refuse_n": 50,
        "outage": 10,
        "retry_base": 2,
        "redis_n": 600,
        "rate": 50,
        "seconds": 15,
        "backlog": 300,
        "examples": 25,
        "health_polls": 15,
        # issue 10, part 4 (scenarios 8-10)
        "sigint_n": 600,
        "sigints": 2,
        "writers_n": 600,
        "writers_seconds": 10,
        "signups": 10,
        # issue 10, kill -9 of standard-API tasks (scenario 11)
        "task_n": 40,
        "task_seconds": 0.5,
        "task_kills": 2,
        # issue 18, goal 4: a real Postfix that says "slow down" (scenario 12)
        "paced_n": 300,
        "paced_count": 100,
        "paced_seconds": 10,
    }
    if QUICK
    else {
        "kill_n": 5000,
        "kills": 5,
        "refuse_n": 500,
        "outage": 120,
        "retry_base": 60,
        "redis_n": 2000,
        "rate": 50,
        "seconds": 60,
        "backlog": 3000,
        "examples": 300,
        "health_polls": 60,
        # issue 10, part 4 (scenarios 8-10)
        "sigint_n": 2000,
        "sigints": 5,
        "writers_n": 2000,
        "writers_seconds": 60,
        "signups": 50,
        # issue 10, kill -9 of standard-API tasks (scenario 11)
        "task_n": 400,
        "task_seconds": 1.0,
        "task_kills": 5,
        "paced_n": 300,
        "paced_count": 100,
        "paced_seconds": 10,
    }
)


def main():
    work = rig.setup("faults")
    sink = Sink().start()
    started = time.monotonic()
    scenarios = [
        ("1", lambda: kill9.run(work, sink, P["kill_n"], P["kills"])),
        ("2", lambda: refusal.run(work, sink, P["refuse_n"], P["outage"], P["retry_base"])),
        ("3", lambda: redis_restart.run(work, sink, P["redis_n"])),
        ("4", lambda: web_load.run(work, sink, P["rate"], P["seconds"], P["backlog"])),
        ("5", lambda: fuzz.run(P["examples"])),
        ("6", lambda: midnight.run(work, sink)),
        ("7", lambda: health_poll.run(work, sink, P["health_polls"])),
        ("8", lambda: pressure.sigint(work, sink, P["sigint_n"], P["sigints"])),
        ("9", lambda: pressure.writers(work, sink, P["writers_n"], P["writers_seconds"])),
        ("10", lambda: pressure.redis_down(work, sink, P["signups"])),
        ("11", lambda: durable_kill.run(work, P["task_n"], P["task_seconds"], P["task_kills"])),
        ("12", lambda: relay_pace.run(work, P["paced_n"], P["paced_count"], P["paced_seconds"])),
    ]
    only = set(sys.argv[1:])
    results = []
    try:
        for key, scenario in scenarios:
            if only and key not in only:
                continue
            t = time.monotonic()
            print(f"scenario {key} ...", flush=True)
            try:
                result = scenario()
            except Exception:  # noqa: BLE001 - a scenario that crashes is a failed scenario, the rest still run
                result = Result(f"{key}. (crashed)", passed=False, problems=[traceback.format_exc()[-2000:]])
            result.figures["took (s)"] = round(time.monotonic() - t)
            results.append(result)
            print(render_one(result), flush=True)
    finally:
        sink.stop()
    write(results, time.monotonic() - started)
    return 0 if all(r.passed for r in results) else 1


def render_one(result):
    lines = [f"{'PASS' if result.passed else 'FAIL'}  {result.name}"]
    lines += [f"      {k}: {json.dumps(v) if isinstance(v, dict | list) else v}" for k, v in result.figures.items()]
    lines += [f"      problem: {p}" for p in result.problems]
    return "\n".join(lines)


def write(results, elapsed):
    mode = "quick (FAULTS_QUICK=1, as in CI)" if QUICK else "full"
    rows = ["| scenario | result | figures |", "|---|---|---|"]
    for r in results:
        figures = "<br>".join(
            f"{k}: {json.dumps(v) if isinstance(v, dict | list) else v}" for k, v in r.figures.items()
        )
        problems = "".join(f"<br>**problem**: {p.splitlines()[-1] if p else ''}" for p in r.problems)
        rows.append(f"| {r.name} | {'PASS' if r.passed else '**FAIL**'} | {figures}{problems} |")
    text = "\n".join(
        [
            "# Reliability: the fault suite",
            "",
            f"`make faults` ({mode}) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {elapsed:.0f} s. Real",
            "processes throughout: `manage.py run_huey` consumers, gunicorn, redis-server, and an aiosmtpd sink",
            "that counts every e-mail by subject. Parameters: " + ", ".join(f"{k}={v}" for k, v in P.items()) + ".",
            "",
            "Machine: " + "; ".join(f"{k} {v}" for k, v in machine.describe().items()),
            "",
            *rows,
            "",
        ]
    )
    (rig.BASE_DIR / "docs").mkdir(exist_ok=True)
    (rig.BASE_DIR / "docs" / "reliability.md").write_text(text)
    print(f"\n{sum(r.passed for r in results)}/{len(results)} scenarios passed; docs/reliability.md written.")


if __name__ == "__main__":
    sys.exit(main())
