"""pytest fixtures for teams building on mysite: real SMTP, a real consumer, real queues.

Enable with ``pytest_plugins = ["testing.plugin"]`` in your ``conftest.py``;
``docs/testing.md`` shows each fixture in use.
"""

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string
from huey.contrib.djhuey import HUEY

from mysite.queue import huey_settings
from testing.consumer import BASE_DIR, Consumer, consumer_env, database_url
from testing.poll import poll, port_answers
from testing.site import Site
from testing.smtp import SMTPServer


def _ci():
    return django_settings.TESTING_CI


def require_service(host, port, name):
    """Skip when ``name`` is not answering (a laptop); fail under CI, where it must be."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        message = f"{name} is not answering on {host}:{port}"
        if _ci():
            pytest.fail(f"{message} (required under CI=true)")
        pytest.skip(message)


def use_queue(url):
    """Point this process's Huey at the storage behind ``url`` (and its ``?name=``); return that storage."""
    conf = huey_settings(url)
    storage = import_string(conf["huey_class"])(conf["name"], **conf["connection"]).storage
    HUEY.storage = storage
    _name_queue(conf["name"])
    return storage


def _name_queue(name):
    """Huey's name here: the queue of that name is the one this process enqueues to and reads."""
    HUEY.name = name


def _process_queue_name():
    """This test process's own queue name: pytest-xdist workers (and two runs) share one Redis database apart."""
    return f"mysite_test_{os.getpid()}"  # [A-Za-z0-9_]: Huey's Redis storage drops other characters


def with_queue_name(url, name):
    """``url`` with ``?name=name``: a queue of that name (``mysite.queue.huey_settings``)."""
    base, _, query = url.partition("?")  # not urlunsplit: it turns sqlite:////abs into sqlite://abs
    return base + "?" + urlencode([(k, v) for k, v in parse_qsl(query) if k != "name"] + [("name", name)])


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 that records every message it accepts."""
    server = SMTPServer().start()
    yield server
    server.stop()


def _require_test_redis():
    """The Redis database tests use (``TEST_REDIS_URL``, never the site's ``HUEY_URL``), with this process's
    queue name: each test process flushes only its own keys, so parallel workers share one database."""
    url = django_settings.TEST_REDIS_URL
    parts = urlsplit(url)
    require_service(parts.hostname or "127.0.0.1", parts.port or 6379, "Redis")
    return with_queue_name(url, _process_queue_name())


@pytest.fixture
def redis_url():
    """``TEST_REDIS_URL`` with this test process's queue name (``?name=``): the Redis queue this test may flush."""
    return _require_test_redis()


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    """Each queue storage in turn: a fresh SQLite file, then Redis (``TEST_REDIS_URL``, flushed)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'huey.sqlite3'}"
    else:
        url = request.getfixturevalue("redis_url")
    storage = use_queue(url)
    storage.flush_all()
    yield url
    storage.flush_all()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """An SQLite test database is a file of this test process's own temporary directory (a consumer opens it
    too), never one in the site's ``var/``; a ``TEST`` ``NAME`` in the settings still wins. (pytest-django
    gives PostgreSQL test databases a ``_gw0``-style suffix per pytest-xdist worker.)"""
    for db in django_settings.DATABASES.values():
        test = db.setdefault("TEST", {})
        if db["ENGINE"].endswith("sqlite3") and not test.get("NAME"):
            test["NAME"] = str(tmp_path_factory.getbasetemp() / "test-db.sqlite3")


@pytest.fixture(autouse=True)
def _outbox_backend(settings):
    """Django's test set-up swaps EMAIL_BACKEND for locmem; mysite's mail goes through the outbox."""
    settings.EMAIL_BACKEND = "notifications.backend.OutboxBackend"


@pytest.fixture(autouse=True)
def _private_paths(settings, tmp_path):
    """Every file a test (or its consumers) writes goes under its own ``tmp_path``, never the site's ``var/``."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.REPORTS_ROOT = str(tmp_path / "media" / "private" / "reports")
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")


# The queue the settings configured, whatever a test points Huey at (``use_queue``) before it is put back.
_CONFIGURED_QUEUE = (HUEY.storage, HUEY.name)


@pytest.fixture(autouse=True)
def _nothing_held_after_the_test():
    """Rows a test left claimed in this process stay its own: the lease monitor does not go on renewing them in
    later tests, or after the test database is gone."""
    yield
    from durable import lifeline

    for kind in lifeline.KINDS.values():
        kind.leases.forget_all()


@pytest.fixture(autouse=True)
def _private_queue(request, tmp_path):
    """Every test gets an empty queue of the configured kind, unless it asked for ``queue_url``.

    SQLite: a fresh file of its own. Redis (HUEY_URL=redis://...): ``TEST_REDIS_URL`` under this process's
    queue name, flushed; the Redis database named by ``HUEY_URL`` is never touched. After the test, Huey is
    pointed back at the configured queue, whatever the test pointed it at.
    """
    if "queue_url" in request.fixturenames:
        storage = None
    elif hasattr(_CONFIGURED_QUEUE[0], "filename"):
        storage = use_queue(f"sqlite:///{tmp_path / 'huey-default.sqlite3'}")
    else:
        storage = use_queue(_require_test_redis())
    if storage is not None:
        storage.flush_all()
    yield
    if storage is not None:
        storage.flush_all()
    HUEY.storage = _CONFIGURED_QUEUE[0]
    _name_queue(_CONFIGURED_QUEUE[1])


def _env(settings, queue, email_url, extra):
    """The environment of a process this test starts: the test database, its queue and its private paths."""
    from django.db import connection

    paths = {
        "MEDIA_ROOT": settings.MEDIA_ROOT,
        "REPORTS_ROOT": settings.REPORTS_ROOT,
        "EMAIL_FILE_PATH": settings.EMAIL_FILE_PATH,
    }
    return consumer_env(
        database_url(connection.settings_dict),
        queue or _current_queue_url(),
        email_url,
        **{"NOTIFICATIONS_RETRY_BASE_SECONDS": 1, **paths, **extra},
    )


@pytest.fixture
def start_consumer(transactional_db, tmp_path, request, settings):
    """Factory: ``start_consumer(email_url=..., host=None, **env)`` starts a real consumer; all are stopped after
    the test. With ``host``, it runs under that host name (``testing.consumer.as_host``): another machine
    as far as the consumer can tell, on the same loopback.

    It talks to the test database and to the queue this test uses, and writes files where the test's
    settings say (``MEDIA_ROOT``, ``REPORTS_ROOT``, ``EMAIL_FILE_PATH``: under ``tmp_path``).
    """
    started = []
    url = request.getfixturevalue("queue_url") if "queue_url" in request.fixturenames else None

    def start(email_url="memorymail://", queue=None, args=(), wait=True, host=None, **extra):
        env = _env(settings, queue or url, email_url, extra)
        consumer = Consumer(env, tmp_path / f"consumer-{len(started)}.log", args, host).start(wait=wait)
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop(timeout=10)


@pytest.fixture
def start_site(transactional_db, tmp_path, request, settings):
    """Factory: ``start_site(args=("--threads", "4"), **env)`` serves the site under a real gunicorn; returns
    the running ``testing.site.Site`` (its ``url``). Same database, queue and paths as ``start_consumer``.
    """
    started = []
    url = request.getfixturevalue("queue_url") if "queue_url" in request.fixturenames else None

    def start(args=("--threads", "4"), email_url="memorymail://", queue=None, **extra):
        env = _env(settings, queue or url, email_url, extra)
        site = Site(env, tmp_path / f"gunicorn-{len(started)}.log", args).start()
        started.append(site)
        return site

    yield start
    for site in started:
        site.stop()


def _current_queue_url():
    storage = HUEY.storage
    if hasattr(storage, "filename"):
        return with_queue_name(f"sqlite:///{storage.filename}", storage.name)
    kwargs = storage.pool.connection_kwargs
    url = f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    return with_queue_name(url, storage.name)


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, to stop and start."""
    require_service("127.0.0.1", 6379, "Redis")  # proves redis-server is installed here
    import subprocess

    from testing.smtp import _free_port

    port = _free_port("127.0.0.1")
    cmd = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        proc = None

        def start(self):
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
            wait_until(lambda: port_answers(port), timeout=10, message="redis-server to start")

        def stop(self):
            self.proc.terminate()
            self.proc.wait(10)

    server = Server()
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()


@pytest.fixture
def deliver_now(smtp_server):
    """Deliver everything queued now, in this process, through a real loopback SMTP server.

    Returns the messages that arrived (``testing.smtp.Received``).
    """
    from notifications import delivery
    from notifications.transport import Transport

    def deliver():
        before = len(smtp_server.messages)
        delivery.deliver(
            transport_factory=lambda: Transport(
                "django.core.mail.backends.smtp.EmailBackend", host=smtp_server.host, port=smtp_server.port
            )
        )
        return smtp_server.messages[before:]

    return deliver


@pytest.fixture
def run_tasks(db):
    """Run the durable tasks (Django's Tasks API) that are due now, in this process, as a consumer would.

    ``run_tasks()`` returns how many ran; each outcome is recorded on its row as the consumer records it.
    """
    from durable import claim

    return claim.run_due


def wait_until(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns something truthy; return that, or fail the test."""
    value = poll(predicate, timeout, interval)
    if not value:
        pytest.fail(f"timed out after {timeout} s waiting for {message}")
    return value


@pytest.fixture
def run_periodic(transactional_db):
    """Move the clock to ``at`` and run the periodic tasks due then, in this process, as the consumer would.

    ``run_periodic(at)`` asks Huey which periodic tasks are due at ``at`` (``read_periodic``) and
    runs each through ``HUEY.execute``; while they run, ``django.utils.timezone.now()`` reads
    ``at`` (plus the time since the call). Returns the names of the tasks run; a task that
    raises fails the test.
    """
    from django.utils import timezone
    from django.utils.module_loading import autodiscover_modules
    from huey import signals

    autodiscover_modules("tasks")  # as run_huey does: the periodic tasks exist once their modules are imported

    def run(at):
        stamp = at.astimezone(UTC).replace(tzinfo=None) if HUEY.utc else timezone.make_naive(at)
        errors = []

        def on_error(signal, task, exc=None):
            errors.append(exc)

        real_now, offset = timezone.now, at - timezone.now()
        HUEY.signal(signals.SIGNAL_ERROR)(on_error)
        timezone.now = lambda: real_now() + offset
        try:
            due = HUEY.read_periodic(stamp)
            for task in due:
                HUEY.execute(task, timestamp=stamp)
        finally:
            timezone.now = real_now
            HUEY.disconnect_signal(on_error, signals.SIGNAL_ERROR)
        if errors:
            raise errors[0]
        return [task.name for task in due]

    return run


@dataclass
class DeadConsumer:
    """A consumer process that claimed outbox rows and was killed (-9) holding their lease."""

    pid: int
    ids: list


_CLAIM_AND_DIE = """
import os, signal, sys, django
django.setup()
from notifications import delivery
rows = delivery.claim(limit=int(sys.argv[1]) or None)
print(os.getpid(), *(r.pk for r in rows), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def dead_consumer(transactional_db):
    """Factory: ``dead_consumer(limit=None, expired=True)`` -> ``DeadConsumer(pid, ids)``.

    A real process on this host claims up to ``limit`` due outbox rows (as a consumer does)
    and is killed with SIGKILL holding them. With ``expired=True`` the clock has also passed
    its lease, so the sweeper takes them back; with ``expired=False`` only a consumer starting
    on this host (which sees the pid is gone) does.
    """

    from notifications.models import Message

    def die(limit=None, expired=True):
        return _die_holding(_CLAIM_AND_DIE, Message, limit or 0, expired)

    return die


def _die_holding(script, model, limit, expired):
    """Run ``script`` (claims up to ``limit`` rows of ``model``, prints its pid and their ids, SIGKILLs itself)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    env = consumer_env(database_url(connection.settings_dict), _current_queue_url(), "memorymail://")
    proc = subprocess.run(
        [sys.executable, "-c", script, str(limit)], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != -9:
        pytest.fail(f"the consumer to kill did not claim and die as planned:\n{proc.stderr[-2000:]}")
    pid, *ids = map(int, proc.stdout.split())
    if expired:
        model.objects.filter(pk__in=ids).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    return DeadConsumer(pid=pid, ids=ids)


# --- durable tasks: a consumer that died holding tasks (issue 10) ------------------------------------


_CLAIM_TASKS_AND_DIE = """
import os, signal, sys, django
django.setup()
from durable import claim
rows = claim.claim(int(sys.argv[1]))
print(os.getpid(), *(r.pk for r in rows), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def dead_task_consumer(transactional_db):
    """Factory: ``dead_task_consumer(limit=1, expired=False)`` -> ``DeadConsumer(pid, ids)``, for durable tasks.

    A real process on this host claims up to ``limit`` due durable tasks, as a consumer's worker does
    when it starts running one, and is killed with SIGKILL holding them. Then ``durable.lifeline.recover()``
    is what a consumer starting on this host does (it sees the pid is gone); with ``expired=True`` the
    lease has also lapsed, and ``durable.lifeline.sweep()`` is what any consumer does once a minute.
    """

    from durable.models import Task

    def die(limit=1, expired=False):
        return _die_holding(_CLAIM_TASKS_AND_DIE, Task, limit, expired)

    return die
