"""Django's database cache with an atomic ``incr``, so rate-limit counters hold across workers.

Django's ``DatabaseCache.incr`` is a read then a write: two gunicorn workers counting the same
key at once can both read 4 and both write 5 (django-ratelimit refuses it for that reason,
django_ratelimit.E003). Here the read and the write share one transaction that first locks the
row (an UPDATE of nothing on PostgreSQL; SQLite's IMMEDIATE transactions lock at BEGIN).
"""

from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, router, transaction


class DatabaseCache(DjangoDatabaseCache):
    def incr(self, key, delta=1, version=None):
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self._table)
        with transaction.atomic(using=db):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET expires = expires WHERE cache_key = %s",
                    [self.make_and_validate_key(key, version=version)],
                )
            return super().incr(key, delta, version)
