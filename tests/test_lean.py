"""A consumer of a SQLite site loads no library it does not use until it uses it (mysite/lean.py, lazy imports).

Each library here is megabytes of resident memory in every consumer (docs/benchmarks.md, section 5).
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.process  # each test starts a Python process of its own

SQLITE_SITE = {"DATABASE_URL": "sqlite:////tmp/lean-test.sqlite3", "HUEY_URL": "sqlite:////tmp/lean-test-huey.sqlite3"}
# psycopg and redis: the site does not use them; the others load where they are used (an upload, a webhook
# delivery, a /metrics scrape, Sentry's init when SENTRY_DSN is set, an XLSX report, a task past its time limit).
NOT_IN_A_CONSUMER = (
    "psycopg",
    "redis",
    "PIL",
    "httpx",
    "httpcore",
    "prometheus_client",
    "sentry_sdk",
    "openpyxl",
    "ctypes",
)
# What `manage.py run_huey` does before it takes work: set up Django, run the system checks (which load the
# URLconf and so every view module), import every app's tasks.
CONSUMER_START = (
    "import django, sys; django.setup(); "
    "from django.core import checks; checks.run_checks(); "
    "from django.utils.module_loading import autodiscover_modules; autodiscover_modules('tasks'); "
)


def _python(code, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    environ.update(DJANGO_SETTINGS_MODULE="mysite.settings", SECRET_KEY="x" * 50, **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environ, capture_output=True, text=True, check=True
    ).stdout.strip()


def _loaded(libraries, **env):
    code = CONSUMER_START + f"print(' '.join(n for n in {libraries!r} if n in sys.modules))"
    return _python(code, **env).split()


def test_it_keeps_unused_libraries_out_of_a_sqlite_sites_consumer():
    assert _loaded(NOT_IN_A_CONSUMER, **SQLITE_SITE) == []


def test_it_leaves_redis_to_a_site_whose_queue_is_redis():
    assert _loaded(("redis",), DATABASE_URL=SQLITE_SITE["DATABASE_URL"], HUEY_URL=settings.TEST_REDIS_URL) == ["redis"]


def test_it_leaves_psycopg_to_a_postgresql_site():
    code = CONSUMER_START + "from django.db.backends.postgresql import psycopg_any; print(psycopg_any.is_psycopg3)"
    assert (
        _python(code, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test", HUEY_URL=SQLITE_SITE["HUEY_URL"])
        == "True"
    )


def test_the_blocked_libraries_stay_importable_after_the_block():
    code = "import mysite.lean as l; l.import_without(['psycopg', 'redis'], 'huey.storage'); import psycopg, redis; print('ok')"
    assert _python(code) == "ok"
