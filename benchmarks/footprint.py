"""Section 5: consumer memory, and what 10,000 e-mails do to the database and queue files."""

import signal
import sqlite3
from datetime import timedelta

from benchmarks import rig


def live_bytes(path):
    """Bytes of an SQLite file in use (pages minus the free list), after a WAL checkpoint."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (
            db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size")
        )
    return (pages - free) * size


def run(work, sink, n):
    from django.core.mail import send_mail
    from django.db import connection
    from django.utils import timezone

    from operations import cleanup

    db = rig.use_database(work / "footprint-db.sqlite3")
    queue = work / "footprint-huey.sqlite3"
    rig.use_queue(rig.sqlite_url(queue))
    sink.reset()
    consumer = rig.start_consumer(work, sink.url, "footprint")
    rig.wait_for(lambda: False, timeout=3)
    idle_rss = rig.rss_mb(consumer.pid)
    connection.close()
    before = {"db": live_bytes(db), "queue": live_bytes(queue)}
    for i in range(n):  # as requests would: the consumer drains while rows arrive
        send_mail(f"footprint {i}", "Body " * 40, "from@example.com", ["to@example.com"])
    sink.wait_for(n, timeout=max(120, n / 20))
    peak_rss = rig.rss_mb(consumer.pid, "VmHWM")
    consumer.stop(signal.SIGINT)
    connection.close()
    after = {"db": live_bytes(db), "queue": live_bytes(queue), "db_file": rig.file_bytes(db)}
    pruned = cleanup.run(now=timezone.now() + timedelta(days=31))  # the daily cleanup, a month on
    connection.close()
    cleaned = {"db": live_bytes(db), "queue": live_bytes(queue), "db_file": rig.file_bytes(db)}
    return {
        "idle_rss_mb": idle_rss,
        "peak_rss_mb": peak_rss,
        "db_growth": after["db"] - before["db"],
        "queue_growth": after["queue"] - before["queue"],
        "db_file_after": after["db_file"],
        "db_after_cleanup": cleaned["db"] - before["db"],
        "db_file_after_cleanup": cleaned["db_file"],
        "pruned": sum(pruned.values()),
    }
