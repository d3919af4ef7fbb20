"""System checks: misconfigurations that would lose or delay background work show at start-up, with a hint."""

import os

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError, connections
from huey.contrib.djhuey import HUEY


@register()
def check_immediate(app_configs=None, **kwargs):
    """Huey's immediate mode runs tasks inside the request: slow pages, and mail lost with a crash."""
    if not settings.HUEY.get("immediate"):
        return []
    hint = "Set HUEY_IMMEDIATE=false and run the consumer: python manage.py run_huey."
    if settings.DEBUG:
        return [Warning("Huey runs in immediate mode: tasks run inside requests.", hint=hint, id="operations.W001")]
    return [
        Error("Huey runs in immediate mode with DEBUG off: tasks run inside requests.", hint=hint, id="operations.E001")
    ]


@register(Tags.database)
def check_sqlite_wal(app_configs=None, databases=None, **kwargs):
    """SQLite without WAL blocks readers while the consumer writes ("database is locked")."""
    errors = []
    for alias in databases or ():
        conn = connections[alias]
        if conn.vendor != "sqlite":
            continue
        try:
            with conn.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                mode = cursor.fetchone()[0]
        except DatabaseError:
            continue  # Django's own checks report a database that cannot be opened.
        if str(mode).lower() != "wal":
            errors.append(
                Error(
                    f"SQLite database {alias!r} is in journal mode {mode!r}, not WAL.",
                    hint="Use a database file (not :memory:) on a local disk, and keep mysite's init_command "
                    "'PRAGMA journal_mode=WAL' in DATABASES OPTIONS.",
                    id="operations.E002",
                )
            )
    return errors


@register()
def check_console_transport(app_configs=None, **kwargs):
    """With the console transport nobody receives any e-mail: fine in development, silent loss in production."""
    if settings.DEBUG or not settings.NOTIFICATIONS_TRANSPORT.endswith("console.EmailBackend"):
        return []
    return [
        Error(
            "E-mail is 'delivered' to the console (EMAIL_URL=consolemail://) with DEBUG off: nobody receives it.",
            hint="Set EMAIL_URL to your relay, e.g. smtp+tls://user:password@smtp.example.com:587.",
            id="operations.E003",
        )
    ]


@register(deploy=True)
def check_queue_reachable(app_configs=None, **kwargs):
    """The queue storage HUEY_URL names must answer, or every task (every e-mail wake-up) waits for the sweeper."""
    storage = HUEY.storage
    if hasattr(storage, "filename"):
        folder = os.path.dirname(os.path.abspath(storage.filename)) or "."
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            problem = f"folder {folder} does not exist or is not writable"
        else:
            problem = None
    else:
        try:
            storage.conn.ping()
            problem = None
        except Exception as exc:  # noqa: BLE001 - any failure to reach Redis is the finding
            problem = f"{type(exc).__name__}: {exc}"
    if problem is None:
        return []
    return [
        Error(
            f"The queue storage (HUEY_URL) is not reachable: {problem}.",
            hint="Start Redis (or create the SQLite queue's folder, writable by the site and the consumer), "
            "or correct HUEY_URL.",
            id="operations.E004",
        )
    ]
