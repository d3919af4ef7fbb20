"""mysite/queue.py: Huey is imported without psycopg, which Django can still load for PostgreSQL."""

import subprocess
import sys

from django.conf import settings


def _python(code):
    return subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_it_keeps_psycopg_out_of_a_sqlite_process():
    assert _python("import sys, mysite.queue, huey.storage; print('psycopg' in sys.modules)") == "False"


def test_it_leaves_psycopg_importable_for_django_on_postgresql():
    code = "import mysite.queue; from django.db.backends.postgresql import psycopg_any; print(psycopg_any.is_psycopg3)"
    assert _python(code) == "True"
