"""The bench's own world: databases and queues under ``var/bench/``, Django set up, consumers started.

Everything a consumer needs travels in its environment (``DATABASE_URL``, ``HUEY_URL``,
``EMAIL_URL``), exactly as in production; this process points its own Django at the same files.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

# This process moves its queue to Redis at run time (use_queue): imported before the settings, redis is not
# kept out of huey.storage as it is in the consumers it starts on a SQLite queue (mysite/lean.py).
import redis  # noqa: F401

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = BASE_DIR / "var" / "bench"
REDIS_DB = os.environ.get("TEST_REDIS_DB", "13")
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
TEMPLATE_DB = VAR / "template.sqlite3"


def quick(variable):
    return os.environ.get(variable, "").lower() in ("1", "true", "yes")


def sqlite_url(path):
    return f"sqlite:///{path}"


def setup(name, database=None):
    """Fresh ``var/bench/<name>/``, a migrated template database, Django set up on a copy of it.

    With ``database`` (a PostgreSQL ``DATABASE_URL`` of an empty database), Django is set up on that one instead,
    migrated here."""
    (VAR / "static").mkdir(parents=True, exist_ok=True)
    work = VAR / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        SECRET_KEY="bench-only-not-a-secret-bench-only-not-a-secret",
        DEBUG="false",
        DATABASE_URL=sqlite_url(work / "db.sqlite3"),
        HUEY_URL=sqlite_url(work / "huey.sqlite3"),
        EMAIL_URL="dummymail://",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        STATIC_ROOT=str(VAR / "static"),
        PYTHONUNBUFFERED="1",
    )
    if database:
        import subprocess

        os.environ["DATABASE_URL"] = database
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=os.environ, check=True)
    else:
        if not TEMPLATE_DB.exists() or _migrations_newer():
            _migrate_template()
        shutil.copy(TEMPLATE_DB, work / "db.sqlite3")
    import django

    django.setup()
    return work


def _migrations_newer():
    stamp = TEMPLATE_DB.stat().st_mtime
    return any(p.stat().st_mtime > stamp for p in BASE_DIR.glob("*/migrations/*.py"))


def _migrate_template():
    import subprocess

    TEMPLATE_DB.unlink(missing_ok=True)
    env = {**os.environ, "DATABASE_URL": sqlite_url(TEMPLATE_DB)}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True)
    import sqlite3

    with sqlite3.connect(TEMPLATE_DB) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def use_database(path):
    """Point this process's Django at a fresh copy of the migrated database at ``path``."""
    from django.db import connections

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(TEMPLATE_DB, path)
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = str(path)
    os.environ["DATABASE_URL"] = sqlite_url(path)
    return path


def use_queue(url, flush=True):
    """Point this process's Huey at ``url`` (flushed); the environment follows for consumers."""
    from django.utils.module_loading import import_string
    from huey.contrib.djhuey import HUEY

    from mysite.queue import huey_settings

    if url.startswith("sqlite:"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite://") + suffix).unlink(missing_ok=True)
    conf = huey_settings(url)
    HUEY.storage = import_string(conf["huey_class"])(conf["name"], **conf["connection"]).storage
    if flush:
        HUEY.storage.flush_all()
    os.environ["HUEY_URL"] = url
    return HUEY.storage


def start_consumer(work, email_url, label="consumer", workers=4, wait=True, **extra):
    """A real ``manage.py run_huey`` on this process's database and queue; its log in ``work``."""
    from testing.consumer import Consumer, consumer_env

    env = consumer_env(os.environ["DATABASE_URL"], os.environ["HUEY_URL"], email_url, HUEY_WORKERS=workers, **extra)
    consumer = Consumer(env, Path(work) / f"{label}.log")
    try:
        return consumer.start(wait=wait)
    except Exception:
        consumer.kill()  # never leave a consumer behind that did not come up in time
        raise


def interrupt(proc, timeout=30):
    """Stop a plain Huey consumer (a ``subprocess.Popen``) gracefully; kill it if it has not ended in ``timeout`` s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def clear_outbox():
    from notifications.models import Message

    Message.objects.all().delete()


def rss_mb(pid, field="VmRSS"):
    """Resident memory of ``pid`` in MB (``VmHWM`` for the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid):
    """User + system CPU time of ``pid`` (all its threads) in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def file_bytes(path):
    """Size of an SQLite file with its WAL and shared-memory files."""
    return sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal", "-shm") if Path(f"{path}{s}").exists())


def wait_for(predicate, timeout=60.0, interval=0.05):
    from testing.poll import poll

    return poll(predicate, timeout, interval)


def section_in_process(title, args, env=None):
    """A bench section run as ``python <args>`` in a process of its own; its printed output under ``title``."""
    import subprocess

    out = subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    ).stdout
    return f"### {title}\n\n{out}"
