"""Where the consumer may POST: http(s) URLs whose host resolves only to allowed addresses.

Public (globally routable) addresses are allowed; loopback, private, link-local and other special
ranges only when WEBHOOKS_ALLOWED_NETWORKS lists them (the tests list loopback). The check runs
when staff save an endpoint and again at every connection: the connection goes to the very
address that was checked, so a DNS answer that changes in between (rebinding) cannot reach an
internal service.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import httpcore
from django.conf import settings
from django.core.exceptions import ValidationError


class UnsafeAddress(Exception):  # noqa: N818 - a refusal, not a failure of the receiver
    """The endpoint's host resolves to an address the settings do not allow (or does not resolve)."""


def host_of(url):
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def allowed_networks():
    return [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOKS_ALLOWED_NETWORKS]


def check_address(address):
    """Raise ``UnsafeAddress`` unless ``address`` (a string) is public or in WEBHOOKS_ALLOWED_NETWORKS."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed_networks()):
        return
    if not ip.is_global or ip.is_multicast:
        raise UnsafeAddress(f"{address} is not a public address, nor in WEBHOOKS_ALLOWED_NETWORKS")


def resolve(host, port):
    """Every address ``host`` resolves to, each checked; ``UnsafeAddress`` if one is refused or none exists."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeAddress(f"{host} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        try:
            check_address(address)
        except UnsafeAddress as exc:
            if address != host:
                raise UnsafeAddress(f"{host} resolves to {exc}") from None
            raise
    return addresses


def validate_url(url):
    """The model field's validator: a staff typo is a form error, not a request to an internal service."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationError("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise ValidationError("The URL has no host.")
    if parts.username or parts.password:
        raise ValidationError("Put no user name or password in the URL; the signature authenticates us.")
    try:
        resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except UnsafeAddress as exc:
        raise ValidationError(f"Refused: {exc}.") from None


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's own socket backend, connecting only to checked addresses of the host."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last = None
        for address in resolve(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last
