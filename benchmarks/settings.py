"""mysite's settings plus the benchmark-only views (``benchmarks.urls``); consumers use it too."""

from mysite.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"

# Section 7 compares backends of the standard Tasks API on the same database: ours (the default), Huey's
# HueyBackend (at-most-once) and django-tasks-db's DatabaseBackend with its `db_worker`.
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db", "benchmarks"]  # noqa: F405 - benchmarks: its tasks.py
TASKS = {  # noqa: F405
    **TASKS,  # noqa: F405
    "huey": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend"},
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}
