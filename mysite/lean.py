"""Keep psycopg and redis out of processes that have no PostgreSQL or Redis to talk to.

huey.storage imports psycopg and redis whenever they are
installed: about 25 MB (psycopg) and 6.5 MB (redis) of resident memory in every consumer and web
worker of a site that uses neither. Settings call this before anything imports those modules, with
the libraries the configuration does not use. A library blocked here is importable again afterwards
(Django's Redis cache imports redis when it first connects); only huey.storage has done without it.
"""

import importlib
import sys


def import_without(libraries, *modules):
    """Import ``modules`` with ``import <library>`` failing for each of ``libraries``; lift the block afterwards.

    A library some earlier import has loaded already is not blocked (a process that moves its queue to
    Redis at run time, as the test suite does, imports redis before the settings).
    """
    blocked = [name for name in libraries if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # an optional `import <name>` then raises ImportError
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        for name in blocked:
            del sys.modules[name]
