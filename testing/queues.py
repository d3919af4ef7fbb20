"""The queue each test uses: an empty one of its own, on SQLite or Redis, and Huey pointed back after it."""

import os
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.conf import settings as django_settings
from django.utils.module_loading import import_string
from huey.contrib.djhuey import HUEY

from mysite.queue import huey_settings
from testing.services import require_service


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


def current_queue_url():
    """The URL of the queue this process's Huey uses now (what a process this test starts must use too)."""
    storage = HUEY.storage
    if hasattr(storage, "filename"):
        return with_queue_name(f"sqlite:///{storage.filename}", storage.name)
    kwargs = storage.pool.connection_kwargs
    url = f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    return with_queue_name(url, storage.name)


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


# The queue the settings configured, whatever a test points Huey at (``use_queue``) before it is put back.
_CONFIGURED_QUEUE = (HUEY.storage, HUEY.name)


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
