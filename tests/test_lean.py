"""mysite/lean.py: a SQLite site's processes load neither psycopg nor openpyxl until they need them."""

import os
import subprocess
import sys

from django.conf import settings

SETUP = "import django, sys; django.setup(); from django.utils.module_loading import autodiscover_modules; "


def _python(code, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    environ.update(DJANGO_SETTINGS_MODULE="mysite.settings", SECRET_KEY="x" * 50, **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environ, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_it_keeps_psycopg_and_openpyxl_out_of_a_sqlite_site():
    code = SETUP + "autodiscover_modules('tasks'); print('psycopg' in sys.modules, 'openpyxl' in sys.modules)"
    assert _python(code, DATABASE_URL="sqlite:////tmp/lean-test.sqlite3") == "False False"


def test_it_leaves_psycopg_to_a_postgresql_site():
    code = SETUP + "from django.db.backends.postgresql import psycopg_any; print(psycopg_any.is_psycopg3)"
    assert _python(code, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test") == "True"


def test_psycopg_stays_importable_after_the_block():
    code = "import mysite.lean as l; l.import_without_psycopg('huey.storage', 'peewee'); import psycopg; print('ok')"
    assert _python(code) == "ok"
