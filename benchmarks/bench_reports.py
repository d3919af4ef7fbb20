"""Report generation: rows per second and peak memory of the generating process, by size and format.

    .venv/bin/python benchmarks/bench_reports.py [--rows 1000,100000,1000000] [--formats csv,xlsx]

Builds a throw-away SQLite database under var/bench/reports/ holding that many outbox
e-mails (one day per size), then generates the "E-mail log" report for each day and format
in a fresh child process, so its peak RSS (getrusage ru_maxrss) is the report's alone.
Prints a markdown table. Flat memory means the peak does not grow with the row count.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
WORK = BASE_DIR / "var" / "bench" / "reports"
FIRST_DAY = date(2026, 1, 1)


def environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="mysite.settings",
        SECRET_KEY="bench-only-not-a-secret",
        DEBUG="false",
        DATABASE_URL=f"sqlite:///{WORK / 'bench.sqlite3'}",
        HUEY_URL=f"sqlite:///{WORK / 'huey.sqlite3'}",
        EMAIL_URL="dummymail://",
        REPORTS_ROOT=str(WORK / "files"),
        REPORTS_TIME_LIMIT_SECONDS="3600",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(BASE_DIR),
    )
    return env


def setup_django():
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def populate(sizes):
    """One day of ``n`` sent e-mails per size; returns the user id."""
    setup_django()
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.utils import timezone

    from notifications.models import Message

    call_command("migrate", verbosity=0)
    for index, n in enumerate(sizes):
        when = timezone.make_aware(
            timezone.datetime.combine(FIRST_DAY + timedelta(days=index), timezone.datetime.min.time())
        )
        for start in range(0, n, 10_000):
            Message.objects.bulk_create(
                Message(
                    status="sent",
                    from_email="noreply@example.com",
                    recipients=[f"user{i}@example.com"],
                    subject=f"Benchmark message {i}",
                    raw=b"x",
                    created_at=when,
                    sent_at=when,
                    attempts=1,
                )
                for i in range(start, min(n, start + 10_000))
            )
    bench = User.objects.create_user("bench", "bench@example.com", "bench-pass-42")
    # The e-mail log over everyone's e-mails needs the outbox view permission (else it is the owner's own only).
    bench.user_permissions.add(Permission.objects.get(content_type__app_label="notifications", codename="view_message"))
    return bench.pk


def child(user_id, day, fmt):
    """In a fresh process: ask for and generate one report; print its outcome as JSON."""
    setup_django()
    from django.contrib.auth.models import User

    from reports import generation, registry, requests

    params = {"start": day, "end": day}
    report, _ = requests.request_report(User.objects.get(pk=user_id), registry.get("email-log"), params, fmt)
    started = time.perf_counter()
    generation.generate(report.pk)
    seconds = time.perf_counter() - started
    report.refresh_from_db()
    print(json.dumps({"status": report.status, "rows": report.row_count, "size": report.size, "seconds": seconds}))


def measure(user_id, day, fmt):
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(user_id), day, fmt],
        env=environment(),
        stdout=subprocess.PIPE,
        cwd=BASE_DIR,
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"child failed ({status}) for {day} {fmt}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,100000,1000000", help="report sizes, comma-separated")
    parser.add_argument("--formats", default="csv,xlsx", help="formats, comma-separated (csv, csv-excel, xlsx)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(int(args.child[0]), args.child[1], args.child[2])

    sizes = [int(n) for n in args.rows.split(",")]
    formats = args.formats.split(",")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    os.environ.update(environment())
    started = time.perf_counter()
    user_id = populate(sizes)
    print(f"populated {sum(sizes):,} outbox rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    print("| rows | format | seconds | rows/s | peak RSS (MiB) | file (MiB) |")
    print("|---:|---|---:|---:|---:|---:|")
    for index, n in enumerate(sizes):
        day = (FIRST_DAY + timedelta(days=index)).isoformat()
        for fmt in formats:
            r = measure(user_id, day, fmt)
            assert r["status"] == "done" and r["rows"] == n, r
            print(
                f"| {n:,} | {fmt} | {r['seconds']:.1f} | {n / r['seconds']:,.0f} | {r['peak_rss_mib']:.0f} "
                f"| {r['size'] / 2**20:.1f} |",
                flush=True,
            )
    print(
        f"\nPython {sys.version.split()[0]}, {os.cpu_count()} CPUs; SQLite database; "
        f"peak RSS is the generating process's (Django loaded) from getrusage.",
        flush=True,
    )
    shutil.rmtree(WORK, ignore_errors=True)


def run(quick=False):
    """Section 6 of ``make bench``: this script in a process of its own; returns its Markdown table."""
    from benchmarks import rig  # here: this file also runs as a plain script

    rows = "1000,100000" if quick else "100000,1000000"
    return rig.section_in_process(
        "6. Reports (E-mail log report, one process per report)",
        [__file__, "--rows", rows, "--formats", "csv,xlsx"],
        env=environment(),
    )


if __name__ == "__main__":
    main()
