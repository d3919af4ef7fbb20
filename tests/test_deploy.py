"""deploy/: the consumer unit stops Huey gracefully, so an e-mail on the wire ends `sent`; backups are consistent."""

import configparser
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core.mail import send_mail

from notifications.models import Message
from testing.plugin import wait_until

BASE = Path(__file__).resolve().parent.parent
DEPLOY = BASE / "deploy"


def unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(DEPLOY / name)
    return parser


def test_the_consumer_unit_waits_longer_than_hueys_shutdown_timeout():
    service = unit("mysite-consumer.service")["Service"]

    assert service["KillSignal"] == "SIGINT"  # Huey's graceful signal (its default graceful_signal='INT')
    assert service["KillMode"] == "mixed"
    assert float(service["TimeoutStopSec"]) > settings.HUEY["consumer"]["shutdown_timeout"]
    assert service["ExecStart"].endswith("manage.py run_huey")


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_stopping_the_consumer_as_systemd_does_finishes_the_email_on_the_wire(start_consumer, smtp_server):
    kill_signal = signal.Signals[unit("mysite-consumer.service")["Service"]["KillSignal"]]
    timeout = float(unit("mysite-consumer.service")["Service"]["TimeoutStopSec"])
    consumer = start_consumer(smtp_server.url)
    smtp_server.slow_down(3)

    send_mail("In flight", "Body", "from@example.com", ["to@example.com"])
    wait_until(lambda: smtp_server.handler.data_attempts == 1, message="the message to be on the wire")
    returncode = consumer.stop(kill_signal, timeout=timeout)

    assert returncode == 0
    assert [m.subject for m in smtp_server.messages] == ["In flight"]
    assert list(Message.objects.values_list("status", flat=True)) == ["sent"]
    assert "All workers have stopped" in consumer.log()


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_sigterm_cuts_the_send_short_and_the_outbox_knows(start_consumer, smtp_server):
    """Why the unit sends SIGINT: Huey's SIGTERM is its immediate stop. The row stays `sending`, not lost."""
    consumer = start_consumer(smtp_server.url)
    smtp_server.slow_down(3)

    send_mail("Cut short", "Body", "from@example.com", ["to@example.com"])
    wait_until(lambda: smtp_server.handler.data_attempts == 1, message="the message to be on the wire")
    consumer.stop(signal.SIGTERM, timeout=10)

    assert list(Message.objects.values_list("status", flat=True)) == ["sending"]
    smtp_server.slow_down(0)
    start_consumer(smtp_server.url)  # recovers the rows of a consumer of this host that is gone
    wait_until(lambda: Message.objects.filter(status="sent").count() == 1, message="the row to be sent")


def test_the_backup_is_a_consistent_copy_taken_while_writes_go_on(tmp_path):
    live = tmp_path / "var"
    live.mkdir()
    db = sqlite3.connect(live / "db.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER)")
    stop = threading.Event()

    def write():
        # Each transaction writes two rows whose sums cancel: any consistent snapshot sums to 0.
        writer = sqlite3.connect(live / "db.sqlite3", isolation_level=None, timeout=30)
        n = 0
        while not stop.is_set() and n < 20000:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("INSERT INTO t (a, b) VALUES (?, ?)", (n, -n))
            writer.execute("INSERT INTO t (a, b) VALUES (?, ?)", (-n, n))
            writer.execute("COMMIT")
            n += 1
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    wait_until(lambda: db.execute("SELECT count(*) FROM t").fetchone()[0] > 200, message="writes under way")
    result = subprocess.run(
        [sys.executable, DEPLOY / "backup-sqlite", live, tmp_path / "backups"], capture_output=True, text=True
    )
    stop.set()
    thread.join()

    assert result.returncode == 0, result.stderr
    [copy] = (tmp_path / "backups").glob("*/db.sqlite3")
    restored = sqlite3.connect(copy)
    count, total = restored.execute("SELECT count(*), sum(a) + sum(b) FROM t").fetchone()
    assert restored.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert count > 200 and count % 2 == 0 and total == 0
