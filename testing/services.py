"""Services a test needs outside this process: whether they must answer, waiting on them, a Redis of one's own."""

import socket
import subprocess

import pytest
from django.conf import settings as django_settings

from testing.poll import poll, port_answers
from testing.smtp import SMTPServer, _free_port


def ci():
    """True under CI (``TESTING_CI``): a missing service fails the test instead of skipping it."""
    return django_settings.TESTING_CI


def require_service(host, port, name):
    """Skip when ``name`` is not answering (a laptop); fail under CI, where it must be."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        message = f"{name} is not answering on {host}:{port}"
        if ci():
            pytest.fail(f"{message} (required under CI=true)")
        pytest.skip(message)


def wait_until(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns something truthy; return that, or fail the test."""
    value = poll(predicate, timeout, interval)
    if not value:
        pytest.fail(f"timed out after {timeout} s waiting for {message}")
    return value


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 that records every message it accepts."""
    server = SMTPServer().start()
    yield server
    server.stop()


class RedisServer:
    """A ``redis-server`` on a free loopback port, saving nothing, its folder ``folder``."""

    def __init__(self, folder):
        self.port = _free_port("127.0.0.1")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None
        self.cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.cmd += ["--appendonly", "no", "--dir", str(folder)]

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL)
        wait_until(lambda: port_answers(self.port), timeout=10, message="redis-server to start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, to stop and start."""
    require_service("127.0.0.1", 6379, "Redis")  # proves redis-server is installed here
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()
