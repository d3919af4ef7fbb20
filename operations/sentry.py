"""Errors to Sentry when ``SENTRY_DSN`` is set: Django and Huey integrations, and a scrubber on every event.

An event keeps what finds the bug (exception type, stack frames, the task's name and its arguments'
shape) and loses what is not ours to ship: local variables and request bodies are never collected;
e-mail addresses anywhere become ``[email]``; values under secret-sounding keys, and the site's own
secrets (SECRET_KEY, the relay and database passwords, METRICS_TOKEN) wherever quoted, become
``[Filtered]``; a task's arguments are replaced by their shape (``list[2] of int``), never their values.
Free text the code itself puts in an exception message is kept (minus addresses and known secrets):
never put a message body in one.
"""

import re

from operations import logs

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
SECRET_KEYS = re.compile(r"pass|secret|token|key|auth|cookie|session|csrf|dsn|credential|body|raw|html", re.I)
FILTERED = "[Filtered]"


def init(dsn, environment="production", release=None, transport=None):
    """Turn Sentry on (settings.py calls this when SENTRY_DSN is set; tests pass a capturing ``transport``)."""
    # Imported here: the SDK (with urllib3) is ~6 MB in every consumer, loaded only where Sentry is on.
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.huey import HueyIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), HueyIntegration()],
        data_collection={
            "user_info": False,  # no user, IP or e-mail of the signed-in user
            "stack_frame_variables": False,  # a frame's locals hold message bodies and addresses
            "http_bodies": [],  # form posts hold passwords and addresses
            "database_query_data": False,
            "queues": True,  # a task's arguments reach ``scrub``, which keeps only their shape
        },
        max_request_body_size="never",
        before_send=scrub,
        before_send_transaction=scrub,
        traces_sample_rate=0,
        transport=transport,
    )


def drop_trace_headers(task):
    """Huey pre-execute hook: remove the ``sentry_headers`` argument an SDK-enabled enqueuer adds.

    With the SDK on in this consumer too, its Huey integration has taken them out already; without
    it (SENTRY_DSN set on the web only), the task would otherwise get an argument it does not take.
    """
    task.kwargs.pop("sentry_headers", None)


def scrub(event, hint=None):
    """``before_send``: the task's arguments as their shape; addresses and known secrets out of every string."""
    secrets = _known_secrets()
    job = event.get("extra", {}).get("huey-job")
    task = logs.current_task()
    if isinstance(job, dict):
        kwargs = job.get("kwargs") if isinstance(job.get("kwargs"), dict) else {}
        secrets |= {str(v) for k, v in kwargs.items() if _secret(k) and v}  # e.g. a password passed to a task
        job["args"], job["kwargs"] = shape(job.get("args")), shape(kwargs)
        if task is not None:
            job["task"] = logs.task_name(task)
    if task is not None:
        event.setdefault("tags", {})["task"] = logs.task_name(task)
    return _clean(event, sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True))


def _known_secrets():
    """The site's own secret values, so a message that quotes one (a DSN, a relay password) loses it."""
    from django.conf import settings

    values = [getattr(settings, name, "") for name in ("SECRET_KEY", "EMAIL_HOST_PASSWORD", "METRICS_TOKEN")]
    values += [db.get("PASSWORD", "") for db in settings.DATABASES.values()]
    return {str(v) for v in values if v}


def shape(value, depth=0):
    """What a value looks like, not what it says: ``int``, ``str[12]``, ``list[3] of int``, ``{ids: list[2] of int}``."""
    if isinstance(value, bool | int | float) or value is None:
        return type(value).__name__
    if isinstance(value, str | bytes):
        return f"{type(value).__name__}[{len(value)}]"
    if isinstance(value, dict):
        if depth >= 2:
            return f"dict[{len(value)}]"
        return {_key(k): shape(v, depth + 1) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple | set | frozenset):
        kinds = sorted({shape(v, 2) if not isinstance(v, dict) else "dict" for v in value})
        return f"{type(value).__name__}[{len(value)}]" + (f" of {', '.join(kinds)}" if kinds else "")
    return type(value).__name__


def _key(key):
    return key if isinstance(key, str) and key.isidentifier() else "<key>"


def _clean(value, secrets):
    if isinstance(value, dict):
        return {k: FILTERED if _secret(k) and v else _clean(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, FILTERED)
        return EMAIL.sub("[email]", value)
    return value


def _secret(key):
    # The task's own fields are kept: shaped above, and "task"/"args" are not secret-sounding anyway.
    return isinstance(key, str) and bool(SECRET_KEYS.search(key)) and key not in ("huey_task_id", "huey_task_retry")
