"""Abuse resistance shared by the apps: the client's address, request rate limits, the 429 answer.

Apps use ``throttle.limits.limited`` on the views where a client can make the site send e-mail,
guess a password or start work; django-axes (log-in lock-out) and django-ratelimit (the counters)
both take the client's address from ``throttle.client.client_ip``.
"""
