"""The client's address: the one function django-axes and the rate limits both use.

REMOTE_ADDR is the client unless it is one of TRUSTED_PROXIES; then, and only then, the
address comes from the proxy's CLIENT_IP_HEADER. Loopback gets no exemption: behind the nginx
sample every request comes from 127.0.0.1, so trusting it blindly would put every client in one
bucket, and exempting it would exempt them all.
"""

import ipaddress
import unicodedata
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies):
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text):
    """The address in ``text``; an IPv4-mapped IPv6 address (a dual-stack socket's IPv4 client) as its IPv4 address."""
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return ip.ipv4_mapped or ip if ip.version == 6 else ip


class NoClientAddress(Exception):  # noqa: N818 - a misconfiguration, answered 400 by throttle.limits
    """The server did not say who the client is (an empty REMOTE_ADDR: a unix socket, a broken proxy set-up)."""


def is_trusted_proxy(address):
    """True when ``address`` (a string) is in TRUSTED_PROXIES."""
    ip = _address(address or "")
    return ip is not None and any(ip in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request):
    """The client's address as a string (``"0.0.0.0"`` when the server was not told one).

    A trusted proxy appends the address it saw to whatever the client sent (nginx's
    ``$proxy_add_x_forwarded_for``), so only the header's last entry is the proxy's own word.
    """
    return str(known_client_ip(request) or "0.0.0.0")


def known_client_ip(request):
    """The client's address (an ``ipaddress`` object), or ``None`` when the server was not told one."""
    remote = request.META.get("REMOTE_ADDR") or ""
    if is_trusted_proxy(remote):
        forwarded = _address(request.META.get(settings.CLIENT_IP_HEADER, "").rsplit(",", 1)[-1])
        if forwarded is not None:
            return forwarded
    return _address(remote)


def identity(value):
    """The account or address a posted name stands for, as one key however it is spelt.

    Django strips and NFKC-normalises a username before looking it up (``UsernameField``,
    ``AbstractBaseUser.normalize_username``), so ``ａｌｉｃｅ`` (full-width) logs in as ``alice``; the password
    reset compares addresses NFKC-normalised and case-folded. Keys are made the same way, and case-folded
    too: the database matches usernames exactly, so folding only puts spellings of one name in one bucket,
    never one account in two.
    """
    return unicodedata.normalize("NFKC", value.strip()).casefold() if isinstance(value, str) else ""


def login_username(request, credentials=None):
    """django-axes' AXES_USERNAME_CALLABLE: the identity tried (``identity``), cut to what axes can store.

    Django's log-in form does not limit what it passes to authenticate(); PostgreSQL would refuse a longer
    value in axes' ``username`` column (255) and the log-in page would answer 500.
    """
    data = credentials if credentials else getattr(request, "data", request.POST)
    username = data.get("username")
    return identity(username)[:255] if isinstance(username, str) else username
