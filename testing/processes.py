"""Real processes a test starts on its own database, queue and folders: consumers (``run_huey``) and gunicorn.

A test that fails shows the last lines each of its processes logged (``pytest_runtest_makereport``): a failure
seen only in CI can be read from CI's output.
"""

import pytest

from testing.consumer import Consumer, consumer_env, database_url
from testing.queues import current_queue_url
from testing.site import Site


def process_env(settings, queue, email_url, extra):
    """The environment of a process this test starts: the test database, its queue and its private paths."""
    from django.db import connection

    paths = {
        "MEDIA_ROOT": settings.MEDIA_ROOT,
        "REPORTS_ROOT": settings.REPORTS_ROOT,
        "EMAIL_FILE_PATH": settings.EMAIL_FILE_PATH,
    }
    return consumer_env(
        database_url(connection.settings_dict),
        queue or current_queue_url(),
        email_url,
        **{"NOTIFICATIONS_RETRY_BASE_SECONDS": 1, **paths, **extra},
    )


def _test_queue(request):
    """The queue of ``queue_url`` when the test asked for it; None: the one Huey uses now."""
    return request.getfixturevalue("queue_url") if "queue_url" in request.fixturenames else None


@pytest.fixture
def start_consumer(transactional_db, tmp_path, request, settings):
    """Factory: ``start_consumer(email_url=..., host=None, **env)`` starts a real consumer; all are stopped after
    the test. With ``host``, it runs under that host name (``testing.consumer.as_host``): another machine as far
    as the consumer can tell, on the same loopback.

    It talks to the test database and to the queue this test uses, and writes files where the test's
    settings say (``MEDIA_ROOT``, ``REPORTS_ROOT``, ``EMAIL_FILE_PATH``: under ``tmp_path``).
    """
    started = []
    url = _test_queue(request)

    def start(email_url="memorymail://", queue=None, args=(), wait=True, host=None, **extra):
        env = process_env(settings, queue or url, email_url, extra)
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
    url = _test_queue(request)

    def start(args=("--threads", "4"), email_url="memorymail://", queue=None, **extra):
        env = process_env(settings, queue or url, email_url, extra)
        site = Site(env, tmp_path / f"gunicorn-{len(started)}.log", args).start()
        started.append(site)
        return site

    yield start
    for site in started:
        site.stop()


LOG_TAIL_LINES = 40
# An idle consumer at DEBUG writes these every second or so; a failure's last lines would hold nothing else.
IDLE_LINES = ("Scheduler: Sleeping for", "Checking worker health", "Workers are up and running", "is up and running")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that started processes: their logs' last lines (less the idle ones) go in its report."""
    report = yield
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and report.when == "call" and tmp_path is not None:
        for log in sorted([*tmp_path.glob("consumer-*.log"), *tmp_path.glob("gunicorn-*.log")]):
            lines = log.read_text(errors="replace").splitlines()
            lines = [line for line in lines if not any(idle in line for idle in IDLE_LINES)][-LOG_TAIL_LINES:]
            title = f"last {len(lines)} lines of {log.name} (idle lines left out)"
            report.sections.append((title, "\n".join(lines)))
    return report
