"""The client's address: the one function django-axes and the rate limits both use.

REMOTE_ADDR is the client unless it is one of TRUSTED_PROXIES; then, and only then, the
address comes from the proxy's CLIENT_IP_HEADER. Loopback gets no exemption: behind the nginx
sample every request comes from 127.0.0.1, so trusting it blindly would put every client in one
bucket, and exempting it would exempt them all.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies):
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def is_trusted_proxy(address):
    """True when ``address`` (a string) is in TRUSTED_PROXIES."""
    ip = _address(address or "")
    return ip is not None and any(ip in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request):
    """The client's address as a string (``"0.0.0.0"`` when the server was not told one).

    A trusted proxy appends the address it saw to whatever the client sent (nginx's
    ``$proxy_add_x_forwarded_for``), so only the header's last entry is the proxy's own word.
    """
    remote = request.META.get("REMOTE_ADDR") or ""
    if is_trusted_proxy(remote):
        forwarded = _address(request.META.get(settings.CLIENT_IP_HEADER, "").rsplit(",", 1)[-1])
        if forwarded is not None:
            return str(forwarded)
    return str(_address(remote) or "0.0.0.0")


def login_username(request, credentials=None):
    """django-axes' AXES_USERNAME_CALLABLE: the username tried, cut to the 255 characters axes can store.

    Django's log-in form does not limit what it passes to authenticate(); PostgreSQL would refuse a longer
    value in axes' ``username`` column and the log-in page would answer 500.
    """
    data = credentials if credentials else getattr(request, "data", request.POST)
    username = data.get("username")
    return username[:255] if isinstance(username, str) else username
