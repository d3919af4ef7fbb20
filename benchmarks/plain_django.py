"""Settings of a minimal Django project on plain Huey: a second baseline for the consumer's idle memory.

What a team that adds Huey to a new Django project runs: ``django.contrib.auth``, ``contenttypes`` and
``huey.contrib.djhuey``, consumed by ``manage.py run_huey``, its queue at ``BENCH_PLAIN_HUEY_URL`` and its
database at ``BENCH_PLAIN_DB``. ``benchmarks.plain_huey`` (``huey_consumer`` with no Django project) is the
stricter baseline that the goal is measured against; this one says where the site stands beside a project.
"""

import os

from huey import RedisHuey, SqliteHuey

_url = os.environ["BENCH_PLAIN_HUEY_URL"]

SECRET_KEY = "benchmark only"  # noqa: S105 - not a secret: a throw-away project on loopback
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "huey.contrib.djhuey"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_PLAIN_DB"]}}
HUEY = (
    SqliteHuey("plain-django", filename=_url.removeprefix("sqlite://"))
    if _url.startswith("sqlite:")
    else RedisHuey("plain-django", url=_url)
)
