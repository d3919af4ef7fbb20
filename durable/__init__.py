"""Durable background tasks: Django's standard Tasks API on rows with fenced, renewed leases (issue 10)."""

from durable.compat import InvalidTask
from durable.options import options

__all__ = ["InvalidTask", "options"]
