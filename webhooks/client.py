"""The HTTP client (httpx): a deadline, no redirects, no proxies from the environment, a capped read.

Connections go through ``GuardedBackend``, so every new connection is made to an address checked
(``safety.resolve``) at that moment. One client per process (its pool keeps connections to receivers alive).
Only ``delivery.post`` imports this module: a consumer that has sent no webhook has no httpx loaded.

httpx's timeouts bound each socket operation, not the exchange: a receiver that sends one header line every
few seconds held a worker for minutes. ``post`` sets a wall-clock deadline (WEBHOOKS_CONNECT_TIMEOUT +
WEBHOOKS_READ_TIMEOUT) that every connect, read and write of its exchange is cut to (``DeadlineStream``).
"""

import contextvars
import functools
import time
from http import HTTPStatus

import httpcore
import httpx
from django.conf import settings

from webhooks.safety import resolve

EXCERPT_CHARS = 500


class TransportFailure(Exception):  # noqa: N818
    """No HTTP answer: the connection was refused, reset or closed, or a timeout passed."""


def reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# The monotonic time the current exchange must end by (None: no exchange under way in this thread).
_deadline = contextvars.ContextVar("webhooks_deadline", default=None)


def _cut(timeout, error):
    """``timeout`` cut to what is left before the deadline; ``error`` raised once nothing is left."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the exchange's deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the exchange's deadline (pooled streams included)."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, max_bytes, timeout=None):
        return self._stream.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer, timeout=None):
        return self._stream.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    def close(self):
        return self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        timeout = _cut(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info):
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's own socket backend, connecting only to checked addresses of the host, by the deadline."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last = None
        for address in resolve(host, port):
            try:
                timeout = _cut(timeout, httpcore.ConnectTimeout)
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
                return DeadlineStream(stream)
            except httpcore.ConnectError as exc:
                last = exc
        raise last


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
    deadline = time.monotonic() + settings.WEBHOOKS_CONNECT_TIMEOUT + settings.WEBHOOKS_READ_TIMEOUT
    token = _deadline.set(deadline)
    try:
        with client().stream("POST", url, content=content, headers=headers) as response:
            data = b""
            for chunk in _until(response.iter_raw(), deadline):
                data += chunk
                if len(data) >= cap:
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
    finally:
        _deadline.reset(token)


def _until(chunks, deadline):
    """The body's chunks until the deadline: what came by then is the excerpt, not a failure."""
    try:
        for chunk in chunks:
            yield chunk
            if time.monotonic() > deadline:
                return
    except httpx.ReadTimeout:
        if time.monotonic() < deadline:
            raise
