"""Keep psycopg out of processes that have no PostgreSQL to talk to.

huey.storage and peewee (behind Huey's stats app) import psycopg whenever it is
installed: about 25 MB of resident memory in every consumer and web worker of a
SQLite site. Settings call this before anything imports them, only when neither
Django's database nor the stats database is PostgreSQL.
"""

import importlib
import sys


def import_without_psycopg(*modules):
    """Import ``modules`` with ``import psycopg`` failing; lift the block afterwards."""
    if "psycopg" in sys.modules:
        return
    sys.modules["psycopg"] = None  # an optional `import psycopg` then raises ImportError
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        del sys.modules["psycopg"]
