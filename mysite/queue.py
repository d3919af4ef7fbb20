"""Huey configuration from one URL: the project's Huey classes, their storages (``mysite.storage``), wake-ups
(``mysite.wakeups``) and consumer events (``mysite.consumer_events``)."""

import os
from urllib.parse import parse_qs, urlencode, urlsplit

from huey import Huey, RedisHuey

from mysite.consumer_events import StopAware
from mysite.storage import WakeupRedisStorage, WakeupSqliteStorage
from mysite.wakeups import Wakeups


class QueueURLError(ValueError):
    """HUEY_URL names no storage we can use."""


class StopAwareRedisHuey(Wakeups, StopAware, RedisHuey):
    storage_class = WakeupRedisStorage


class WakeupSqliteHuey(Wakeups, StopAware, Huey):
    storage_class = WakeupSqliteStorage


def huey_settings(url, *, name="mysite", immediate=False, consumer=None):
    """Build Django's ``HUEY`` setting from ``HUEY_URL``.

    ``sqlite:////abs/path.sqlite3`` or ``redis://host:port/db``; anything else
    raises ``QueueURLError`` with a message naming the setting. ``?name=`` names the queue (Huey's name,
    default ``mysite``): on Redis its keys are ``huey.*.<name>``, so queues of several names share one
    database without seeing each other (the test suite gives each of its processes one).
    """
    parts = urlsplit(url or "")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    common = {
        "name": options.pop("name", None) or name,
        "immediate": immediate,
        "results": True,
        "store_none": False,
        "utc": True,
        "consumer": dict(consumer or {}),
    }
    if parts.scheme == "sqlite":
        return {**common, "huey_class": "mysite.queue.WakeupSqliteHuey", "connection": _sqlite(url, parts, options)}
    if parts.scheme in ("redis", "rediss"):
        return {**common, "huey_class": "mysite.queue.StopAwareRedisHuey", "connection": _redis(url, parts, options)}
    raise QueueURLError(f"HUEY_URL={url!r}: expected sqlite:////absolute/path.sqlite3 or redis://host:port/db")


def _sqlite(url, parts, options):
    # sqlite:////abs/path splits to the path "//abs/path": one leading slash names the same file.
    path = "/" + parts.path.lstrip("/") if parts.path else ""
    if not path or path == "/" or parts.netloc:
        raise QueueURLError(f"HUEY_URL={url!r}: expected sqlite:////absolute/path.sqlite3")
    if not os.path.isdir(os.path.dirname(path)):
        raise QueueURLError(f"HUEY_URL={url!r}: folder {os.path.dirname(path)} does not exist")
    return {
        "filename": path,
        "timeout": float(options.get("timeout", 20)),
        # The outbox rows are the truth; a task lost with the OS is re-enqueued by the sweeper.
        "fsync": options.get("fsync", "false").lower() in ("1", "true", "yes"),
        "poll_interval": float(options.get("poll_interval", 2.0)),
    }


def _redis(url, parts, options):
    if not parts.hostname:
        raise QueueURLError(f"HUEY_URL={url!r}: expected redis://host:port/db")
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise QueueURLError(f"HUEY_URL={url!r}: {exc}") from None
    from redis import ConnectionPool  # here: a site on SQLite does not load redis (mysite.lean)

    return {
        # Short timeouts: a request must not hang on a Redis that is down.
        "connection_pool": ConnectionPool.from_url(
            parts._replace(query=urlencode(options)).geturl(),  # without ?name=, which is ours
            socket_connect_timeout=1,
            socket_timeout=5,
            health_check_interval=30,
        ),
        "blocking": True,
        "read_timeout": 1,
    }


__all__ = ["huey_settings", "QueueURLError", "WakeupSqliteHuey", "RedisHuey", "StopAwareRedisHuey"]
