"""pytest fixtures for teams building on mysite: real SMTP, a real consumer, real queues.

Enable with ``pytest_plugins = ["testing.plugin"]`` in your ``conftest.py``;
``docs/testing.md`` shows each fixture in use.
"""

import os
import socket

import pytest
from django.utils.module_loading import import_string
from huey.contrib.djhuey import HUEY

from mysite.queue import huey_settings
from testing.consumer import Consumer, consumer_env, database_url
from testing.smtp import SMTPServer

# Tests flush this Redis database; TEST_REDIS_DB lets parallel checkouts keep apart.
REDIS_TEST_URL = f"redis://127.0.0.1:6379/{os.environ.get('TEST_REDIS_DB', '15')}"


def _ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
    """Point this process's Huey at the storage behind ``url``; return that storage."""
    conf = huey_settings(url)
    storage = import_string(conf["huey_class"])(conf["name"], **conf["connection"]).storage
    HUEY.storage = storage
    return storage


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 that records every message it accepts."""
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url():
    require_service("127.0.0.1", 6379, "Redis")
    return REDIS_TEST_URL


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    """Each queue storage in turn: a fresh SQLite file, then Redis (db 15, flushed)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'huey.sqlite3'}"
    else:
        url = request.getfixturevalue("redis_url")
    storage = use_queue(url)
    storage.flush_all()
    yield url
    storage.flush_all()


@pytest.fixture(autouse=True)
def _outbox_backend(settings):
    """Django's test set-up swaps EMAIL_BACKEND for locmem; mysite's mail goes through the outbox."""
    settings.EMAIL_BACKEND = "notifications.backend.OutboxBackend"


@pytest.fixture(autouse=True)
def _private_queue(request, tmp_path):
    """Every test gets an empty queue of the configured kind, unless it asked for ``queue_url``.

    SQLite: a fresh file of its own. Redis (HUEY_URL=redis://...): that database, flushed.
    """
    if "queue_url" in request.fixturenames:
        yield
        return
    original = HUEY.storage
    if hasattr(original, "filename"):
        storage = use_queue(f"sqlite:///{tmp_path / 'huey-default.sqlite3'}")
    else:
        require_service("127.0.0.1", 6379, "Redis")
        storage = original
    storage.flush_all()
    yield
    storage.flush_all()
    HUEY.storage = original


@pytest.fixture
def start_consumer(transactional_db, tmp_path, request):
    """Factory: ``start_consumer(email_url=..., **env)`` starts a real consumer; all are stopped after the test.

    It talks to the test database and to the queue this test uses.
    """
    from django.db import connection

    started = []
    url = request.getfixturevalue("queue_url") if "queue_url" in request.fixturenames else None

    def start(email_url="memorymail://", queue=None, args=(), wait=True, **extra):
        env = consumer_env(
            database_url(connection.settings_dict),
            queue or url or _current_queue_url(),
            email_url,
            **{"NOTIFICATIONS_RETRY_BASE_SECONDS": 1, **extra},
        )
        consumer = Consumer(env, tmp_path / f"consumer-{len(started)}.log", args).start(wait=wait)
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop(timeout=10)


def _current_queue_url():
    storage = HUEY.storage
    if hasattr(storage, "filename"):
        return f"sqlite:///{storage.filename}"
    kwargs = storage.pool.connection_kwargs
    return f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


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
            wait_until(lambda: _answers(port), timeout=10, message="redis-server to start")

        def stop(self):
            self.proc.terminate()
            self.proc.wait(10)

    server = Server()
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()


def _answers(port):
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


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


def wait_until(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns something truthy; return that, or fail the test."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {message}")
