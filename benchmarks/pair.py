"""``python -m benchmarks.pair OLD_CHECKOUT [ROUNDS]``: this checkout beside an older one, in the same hour.

Issue 16 asks that the engine's rewrite keep the drain, pickup, request-cost and memory figures within ±10 % of
the main before it, measured in the same hour on the same machine. Each round runs the same measures once in
each checkout (``python -m benchmarks.pair --one`` with that checkout's own code and virtualenv), old and new
alternating so drift hits both alike; the table gives each figure's median over the rounds and new ÷ old.

The measures are the benchmark modules both versions share (``request_cost``, ``enqueue``, ``drain``,
``pickup``, ``task_drain``), called the same way, with smaller counts than ``make bench`` so a pair of five
rounds takes about half an hour.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

# (key, label, unit, higher is better)
MEASURES = [
    ("request_added_p50", "request: added by queuing an e-mail, p50", "ms", False),
    ("send_mail_SQLite", "send_mail() to the outbox, SQLite", "µs", False),
    ("send_mail_Redis", "send_mail() to the outbox, Redis", "µs", False),
    ("enqueue_SQLite", "durable enqueue(), SQLite queue", "µs", False),
    ("drain_SQLite", "e-mail drain, 4 workers, SQLite", "e-mails/s", True),
    ("drain_Redis", "e-mail drain, 4 workers, Redis", "e-mails/s", True),
    ("noop_drain_SQLite", "durable no-op drain, 4 workers, SQLite", "tasks/s", True),
    ("pickup_p50_SQLite", "idle pickup, send_mail() to the relay, p50, SQLite", "ms", False),
    ("pickup_p95_SQLite", "idle pickup, send_mail() to the relay, p95, SQLite", "ms", False),
    ("pickup_p50_Redis", "idle pickup, send_mail() to the relay, p50, Redis", "ms", False),
    ("pickup_p95_Redis", "idle pickup, send_mail() to the relay, p95, Redis", "ms", False),
    ("rss_idle_SQLite", "consumer RSS idle, SQLite", "MB", False),
    ("rss_idle_Redis", "consumer RSS idle, Redis", "MB", False),
    ("rss_peak_drain_SQLite", "consumer peak RSS draining, SQLite", "MB", False),
]
P = {"requests": 300, "enqueues": 1000, "drain": 10000, "noops": 3000, "pickups": 12, "idle": 3}
if os.environ.get("BENCH_QUICK"):  # a smoke run of the driver itself, not figures to quote
    P = {"requests": 20, "enqueues": 50, "drain": 300, "noops": 200, "pickups": 2, "idle": 1}


def one():
    """One round of every measure in this checkout; a JSON line on stdout."""
    from benchmarks import drain, enqueue, pickup, request_cost, rig, task_drain
    from benchmarks.sink import Sink
    from benchmarks.stats import percentile

    work = rig.setup("pair")
    sink, slow = Sink().start(), Sink().start()
    urls = {"SQLite": rig.sqlite_url(work / "huey.sqlite3"), "Redis": rig.REDIS_URL}
    out = {}
    try:
        rig.use_queue(urls["SQLite"])
        r = request_cost.run(slow, P["requests"], 5)
        out["request_added_p50"] = (percentile(r["outbox"], 50) - percentile(r["nothing"], 50)) * 1000
        for name, url in urls.items():
            out[f"send_mail_{name}"] = median(enqueue.outbox(url, P["enqueues"])) * 1e6
            d = drain.outbox(work, sink, url, 4, P["drain"])
            out[f"drain_{name}"] = d["rate"]
            if name == "SQLite":
                out["rss_peak_drain_SQLite"] = d["peak_rss_mb"]
            p = pickup.run(work, sink, url, P["pickups"], P["idle"])
            out[f"pickup_p50_{name}"] = percentile(p["latencies"], 50) * 1000
            out[f"pickup_p95_{name}"] = percentile(p["latencies"], 95) * 1000
            out[f"rss_idle_{name}"] = p["idle_rss_mb"]
        rig.use_queue(urls["SQLite"])
        rig.use_database(work / "pair-tasks.sqlite3")
        out["enqueue_SQLite"] = median(task_drain.enqueue_cost("default", P["enqueues"])) * 1e6
        out["noop_drain_SQLite"] = task_drain.drain(work, "default", P["noops"], 4)["rate"]
    finally:
        sink.stop()
        slow.stop()
    print("PAIR " + json.dumps(out), flush=True)


def _round(checkout, log):
    proc = subprocess.run(
        [str(Path(checkout) / ".venv" / "bin" / "python"), str(Path(__file__).resolve()), "--one"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    log.write(proc.stdout + proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PAIR ")]
    if proc.returncode or not lines:
        sys.exit(f"the round in {checkout} failed (exit {proc.returncode}); see {log.name}")
    return json.loads(lines[-1].removeprefix("PAIR "))


def table(results, old):
    """The markdown table of ``results`` (``{"old": [round, ...], "new": [...]}``): medians and new ÷ old."""
    lines = [f"| measure | old ({old}) | new | new ÷ old | within ±10 % or better |", "|---|---|---|---|---|"]
    for key, label, unit, higher in MEASURES:
        a, b = (median([r[key] for r in results[side] if r.get(key) is not None]) for side in ("old", "new"))
        ratio = b / a
        kept = ratio >= 0.9 if higher else ratio <= 1.1
        lines.append(f"| {label} | {a:,.2f} {unit} | {b:,.2f} {unit} | {ratio:.2f} | {'yes' if kept else 'no'} |")
    return "\n".join(lines)


def main(old, rounds=5):
    new = str(Path(__file__).resolve().parents[1])
    for checkout in (old, new):
        if not (Path(checkout) / ".venv" / "bin" / "python").exists():
            sys.exit(f"{checkout} has no virtualenv: run `make .venv/.dev` there first")
    results = {"old": [], "new": []}
    (Path(new) / "var").mkdir(exist_ok=True)
    with open(Path(new) / "var" / "bench-pair.log", "w") as log:
        for k in range(rounds):
            for side, checkout in (("old", old), ("new", new)) if k % 2 == 0 else (("new", new), ("old", old)):
                began = time.monotonic()
                results[side].append(_round(checkout, log))
                print(f"round {k + 1} {side}: {time.monotonic() - began:.0f} s", flush=True)
    print()
    print(table(results, old))
    (Path(new) / "var" / "bench-pair.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    if "--one" in sys.argv:
        sys.path.insert(0, str(Path.cwd()))
        one()
    else:
        main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)
