"""The database cache's increment is atomic: concurrent workers counting one key lose no counts."""

import threading

import pytest
from django.core.cache import caches
from django.db import connections

pytestmark = pytest.mark.django_db(transaction=True)


def count_concurrently(cache, threads=8, each=25):
    cache.set("hits", 0, 60)
    barrier = threading.Barrier(threads)

    def work():
        barrier.wait()
        try:
            for _ in range(each):
                cache.incr("hits")
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return cache.get("hits")


def test_concurrent_increments_are_all_counted(settings):
    assert count_concurrently(caches["default"]) == 200


def test_djangos_own_database_cache_is_not_atomic_which_is_why_we_wrap_it(settings):
    settings.CACHES = {
        **settings.CACHES,
        "plain": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "mysite_cache"},
    }
    assert count_concurrently(caches["plain"]) < 200  # ~30 of 200 here: most counts lost
