"""Where the consumer may POST: http(s) URLs whose host resolves only to allowed addresses.

Public (globally routable) addresses are allowed; loopback, private, link-local and other special
ranges only when WEBHOOKS_ALLOWED_NETWORKS lists them (the tests list loopback). The check runs
when staff save an endpoint and again at every connection (``client.GuardedBackend`` calls
``resolve``): the connection goes to the very address that was checked, so a DNS answer that
changes in between (rebinding) cannot reach an internal service.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

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


# IPv6 ranges whose last 32 bits are an IPv4 address a router or a host reaches: IPv4-compatible (deprecated),
# IPv4-mapped, IPv4-translated (SIIT) and the well-known NAT64 prefix. On a network with NAT64, a connection to
# 64:ff9b::a9fe:a9fe is a connection to 169.254.169.254.
CARRY_IPV4 = tuple(ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96"))
# Global unicast is 2000::/3 (RFC 4291, IANA's allocations); outside it nothing is a public receiver. Inside it,
# ranges Python's ``is_global`` (3.11) still calls global: documentation (RFC 9637).
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
NOT_GLOBAL = (ipaddress.ip_network("3fff::/20"),)


def carried_ipv4(ip):
    """The IPv4 addresses an IPv6 address embeds or translates to (empty for a plain IPv6 address).

    Besides ``CARRY_IPV4``: 6to4 (2002::/16, the address after the prefix) and Teredo (2001::/32, its
    server and its client). The local-use NAT64 prefix (64:ff9b:1::/48) puts the address where the
    operator chose, so it is refused outright as not global (outside 2000::/3).
    """
    if ip.version == 4 or ip in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        return []
    if any(ip in net for net in CARRY_IPV4):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return []


def is_public(ip):
    """Whether ``ip`` (with no IPv4 inside) is a public unicast address."""
    if ip.is_multicast or not ip.is_global:
        return False
    return ip.version == 4 or (ip in GLOBAL_UNICAST and not ip.is_site_local and not any(ip in n for n in NOT_GLOBAL))


def check_address(address):
    """Raise ``UnsafeAddress`` unless ``address`` (a string) is public or in WEBHOOKS_ALLOWED_NETWORKS.

    An IPv6 address that carries an IPv4 address (``carried_ipv4``) is judged by that IPv4 address alone:
    it is where the packets end up.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    networks = allowed_networks()
    for judged in carried_ipv4(ip) or [ip]:
        if not any(judged in net for net in networks) and not is_public(judged):
            carried = "" if judged is ip else f" (it carries the IPv4 address {judged})"
            raise UnsafeAddress(f"{address} is not a public address, nor in WEBHOOKS_ALLOWED_NETWORKS{carried}")


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
