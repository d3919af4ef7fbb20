"""A transactional test's flush puts the content types and permissions back in one INSERT each.

Django empties every table after a transactional test (``TransactionTestCase``, pytest-django's
``transaction=True``) and then sends ``post_migrate`` for every app: ``create_contenttypes`` and
``create_permissions`` query and re-insert them app by app, which was a sixth of the fast suite's test time. Here
the rows the migrations made are kept once per test process and written back as they were, with the same ids,
the moment the flush sends its signal; nothing else in the database differs from Django's own way.
"""

import pytest
from django.contrib.auth import management as auth_management
from django.contrib.contenttypes import management as contenttypes_management
from django.db.models.signals import post_migrate

_HANDLERS = (
    (contenttypes_management.create_contenttypes, None),
    (auth_management.create_permissions, "django.contrib.auth.management.create_permissions"),
)


class Snapshot:
    """The content types and permissions of a freshly migrated test database."""

    def __init__(self):
        from django.contrib.auth.models import Permission
        from django.contrib.contenttypes.models import ContentType

        self.models = (ContentType, Permission)
        self.rows = {model: list(model.objects.values()) for model in self.models}

    def restore(self, using="default", **kwargs):
        """``post_migrate`` receiver: after a flush (the tables empty), the rows as they were, ids and all."""
        content_type = self.models[0]
        if content_type.objects.using(using).exists():
            return  # another app's signal of the same flush already restored them, or this is no flush
        for model in self.models:
            model.objects.using(using).bulk_create(model(**row) for row in self.rows[model])
        content_type.objects.clear_cache()


@pytest.fixture(scope="session")
def _flush_snapshot(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        snapshot = Snapshot()
    for handler, uid in _HANDLERS:
        post_migrate.disconnect(handler, dispatch_uid=uid)
    post_migrate.connect(snapshot.restore, weak=False, dispatch_uid="testing.flush")
    yield snapshot
    post_migrate.disconnect(dispatch_uid="testing.flush")
    for handler, uid in _HANDLERS:
        post_migrate.connect(handler, dispatch_uid=uid)


_DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


@pytest.fixture(autouse=True)
def _quick_flush(request):
    """A test that uses the database takes the snapshot first (once per process; a test that is not transactional
    never flushes, so the swapped signal is idle for it). A test without the database leaves it alone."""
    if request.node.get_closest_marker("django_db") or _DATABASE_FIXTURES & set(request.fixturenames):
        request.getfixturevalue("_flush_snapshot")
