"""``python -m benchmarks.scaling`` (``make bench-scaling``): past one machine, on PostgreSQL + Redis.

1. The curve: e-mails (to the loopback sink) and no-op durable tasks drained per second by 1, 2 and 4
   consumer processes on two host names, 0 lost and 0 twice checked (``benchmarks.scaling_drain``).
2. A host killed for good: its rows finished by the other host; how long after the kill (same module).
3. The claim query at 10,000 and 1,000,000 finished rows, then 100,000 due beside them, with ``EXPLAIN``, on PostgreSQL and on SQLite
   (``benchmarks.scaling_claim``, each in a process of its own).

PostgreSQL: ``SCALING_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/mysite_bench_scaling``),
dropped and created afresh. Redis: database ``TEST_REDIS_DB`` (13 unless set), flushed. Consumers run under
other host names with ``unshare --uts`` (root, or a user namespace). ``SCALING_QUICK=1``: small batches, a
smoke run. Prints Markdown (docs/scaling.md quotes it) and writes it to ``var/bench/scaling.md``.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit

from benchmarks import machine, rig, scaling_drain

QUICK = rig.quick("SCALING_QUICK")
MAILS, TASKS = (300, 300) if QUICK else (2000, 3000)
LEASE = 10  # seconds, for the host killed: the default is 60
DATABASE = os.environ.get("SCALING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mysite_bench_scaling")


def _fresh_database(url):
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = dict(host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password)
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def curve(work, sink):
    rows = []
    for k in (1, 2, 4):
        mail = scaling_drain.point(work, sink, "e-mail", k, MAILS)
        tasks = scaling_drain.point(work, sink, "tasks", k, TASKS)
        rows.append((k, mail, tasks, machine.load()))
        print(f"  {k} consumers: {mail['rate']:.0f} e-mails/s, {tasks['rate']:.0f} tasks/s", flush=True)
    lines = [
        f"{MAILS:,} e-mails / {TASKS:,} no-op tasks a point; each consumer process at 4 workers, alternately on "
        f"{scaling_drain.HOSTS[0]} and {scaling_drain.HOSTS[1]}.",
        "",
        "| consumer processes (hosts) | e-mails/s | lost | twice | no-op tasks/s | lost | twice | load average |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, mail, tasks, avg in rows:
        lines.append(
            f"| {k} ({min(k, 2)}) | {mail['rate']:,.0f} | {mail['lost']} | {mail['twice']} "
            f"| {tasks['rate']:,.0f} | {tasks['lost']} | {tasks['twice']} | {avg} |"
        )
    return lines


def killed(work, sink):
    f = scaling_drain.host_killed(work, sink, LEASE)
    return [
        f"Two hosts of two consumers each (4 workers); tasks of 0.5 s and e-mails queued; leases of {LEASE} s "
        "(DURABLE_LEASE_SECONDS, NOTIFICATIONS_LEASE_SECONDS). Host A's consumers killed with SIGKILL once it "
        "held both kinds, never restarted.",
        "",
        "| lease | held by A at the kill | taken back after | all finished by B after | rows B finished "
        "| lost | twice | twice, not held by A |",
        "|---|---|---|---|---|---|---|---|",
        f"| {f['lease_s']} s | {f['held_at_kill']} | {f['taken_back_after_s']} s | {f['finished_by_b_after_s']} s "
        f"| {f['by_b']} | {f['lost']} | {f['twice']} | {f['twice_beyond_held']} |",
    ]


def _claim_run(work, url):
    env = {**os.environ, "DATABASE_URL": url}
    if url.startswith("sqlite"):
        if not rig.TEMPLATE_DB.exists() or rig._migrations_newer():
            rig._migrate_template()
        shutil.copy(rig.TEMPLATE_DB, url.removeprefix("sqlite:///"))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.scaling_claim"], cwd=rig.BASE_DIR, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(f"benchmarks.scaling_claim failed on {url}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def claims(work):
    lines = [
        "| table | engine | finished rows | due rows | one claim, ms (median of 40) | statements, ms | how the rows are read |",
        "|---|---|---|---|---|---|---|",
    ]
    plans = []
    for engine, url in (("PostgreSQL", DATABASE), ("SQLite", rig.sqlite_url(work / "claim.sqlite3"))):
        for kind, points in _claim_run(work, url).items():
            for p in points:
                ms = " + ".join(f"{s['ms']:.3f}" for s in p["statements"])
                reads = "; ".join(dict.fromkeys(scan for s in p["statements"] for scan in s["scans"]))
                lines.append(f"| {kind} | {engine} | {p['rows']:,} | {p['due']:,} | {p['claim_ms']} | {ms} | {reads} |")
            last = points[-1]
            pick = next(s for s in last["statements"] if s["picks"])
            plans += [f"{kind} on {engine}, {last['rows']:,} finished and {last['due']:,} due rows, `{pick['sql']}`:"]
            plans += ["", "```"]
            plans += [*pick["plan"], "```", ""]
        print(f"  claim on {engine} measured", flush=True)
    return lines + ["", *plans]


def main():
    _fresh_database(DATABASE)
    work = rig.setup("scaling", database=DATABASE)
    from django.db import connection

    from benchmarks.sink import Sink

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]

    began, sink = time.monotonic(), Sink().start()
    report = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average at the start {machine.load()} "
        f"({os.cpu_count()} cores).",
        "",
        *(f"- {k}: {v}" for k, v in {**machine.describe(), "PostgreSQL": postgres}.items()),
        "",
    ]
    try:
        report += ["### Throughput by consumer processes", "", *curve(work, sink), ""]
        report += ["### A host killed for good", "", *killed(work, sink), ""]
    finally:
        sink.stop()
    report += ["### The claim query as the tables grow", "", *claims(work), ""]
    report.append(f"Took {time.monotonic() - began:.0f} s; load average at the end {machine.load()}.")
    text = "\n".join(report)
    (rig.VAR / "scaling.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
