"""The HTTP client (httpx): timeouts, no redirects, no proxies from the environment, a capped read.

Connections go through ``safety.GuardedBackend``, so every new connection is made to an address
checked at that moment. One client per process (its pool keeps connections to receivers alive).
"""

import functools
import time
from http import HTTPStatus

import httpcore
import httpx
from django.conf import settings

from webhooks.safety import GuardedBackend

EXCERPT_CHARS = 500


class TransportFailure(Exception):  # noqa: N818
    """No HTTP answer: the connection was refused, reset or closed, or a timeout passed."""


def reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@functools.lru_cache(maxsize=4)
def _client(connect, read, networks):
    transport = httpx.HTTPTransport()
    # httpx exposes no network backend: give its pool one built the way it builds its own (httpx 0.28).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(),
    )
    timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
    headers = {"user-agent": "mysite-webhooks/1"}
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False, headers=headers)


def client():
    """The process's client for the current settings (tests change the allowed networks)."""
    return _client(
        settings.WEBHOOKS_CONNECT_TIMEOUT, settings.WEBHOOKS_READ_TIMEOUT, tuple(settings.WEBHOOKS_ALLOWED_NETWORKS)
    )


def post(url, content, headers):
    """POST; return ``(status, response headers, excerpt)``, reading at most WEBHOOKS_MAX_RESPONSE_BYTES.

    ``UnsafeAddress`` (from the guard) passes through; every other failure is a ``TransportFailure``.
    """
    cap = settings.WEBHOOKS_MAX_RESPONSE_BYTES
    deadline = time.monotonic() + settings.WEBHOOKS_READ_TIMEOUT
    try:
        with client().stream("POST", url, content=content, headers=headers) as response:
            data = b""
            for chunk in response.iter_raw():
                data += chunk
                if len(data) >= cap or time.monotonic() > deadline:
                    break  # enough to show; the rest is not read (the connection is closed)
            try:
                text = data[: EXCERPT_CHARS * 4].decode(response.encoding or "utf-8", errors="replace")
            except LookupError:  # a charset Python does not know
                text = data[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
            excerpt = text[:EXCERPT_CHARS]
            return response.status_code, response.headers, excerpt
    except httpx.TimeoutException as exc:
        raise TransportFailure(f"timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise TransportFailure(f"{type(exc).__name__}: {str(exc)[:200] or 'no answer'}") from None
