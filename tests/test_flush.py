"""testing.flush: after a transactional test's flush, the content types and permissions are the ones the
migrations made, and Django's own ``post_migrate`` handlers would add nothing to them."""

import pytest
from django.apps import apps
from django.contrib.auth import management as auth_management
from django.contrib.auth.models import Permission
from django.contrib.contenttypes import management as contenttypes_management
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)


def rows():
    return (
        sorted(ContentType.objects.values_list("id", "app_label", "model")),
        sorted(Permission.objects.values_list("id", "content_type_id", "codename", "name")),
    )


def test_a_flush_puts_back_the_content_types_and_permissions_with_their_ids():
    before = rows()
    assert len(before[0]) > 20 and len(before[1]) > 80  # every app's models, four permissions each

    call_command("flush", interactive=False, verbosity=0)

    assert rows() == before  # the same rows, ids and all: Django's handlers would have given new ids
    for app in apps.get_app_configs():
        contenttypes_management.create_contenttypes(app, verbosity=0)
        auth_management.create_permissions(app, verbosity=0)
    assert rows() == before  # nothing was missing


def test_a_permission_given_after_a_flush_is_one_the_site_checks(django_user_model):
    call_command("flush", interactive=False, verbosity=0)
    user = django_user_model.objects.create_user("ops", password="x")
    user.user_permissions.add(Permission.objects.get(codename="view_message"))

    assert django_user_model.objects.get(pk=user.pk).has_perm("notifications.view_message")
