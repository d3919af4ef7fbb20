"""Pictures and the daily cleanup: a deleted user's go (and stop being served at once), replaced ones after a day."""

import os
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from images import files
from images.models import Picture
from operations import cleanup
from tests import images_data as data

pytestmark = pytest.mark.django_db


def images_counts(counts):
    return {k: v for k, v in counts.items() if "picture" in k}


@pytest.fixture
def ready_picture(client, run_tasks):
    user = data.signed_in(client)
    data.upload(client, data.phone_photo())
    run_tasks()
    return user, Picture.objects.get(user=user)


def test_a_deleted_users_pictures_stop_being_served_and_go_with_the_cleanup(client, ready_picture):
    user, picture = ready_picture
    url = picture.url(256)
    data.signed_in(client, "bob")
    assert client.get(url).status_code == 200  # colleagues see each other's pictures

    User.objects.filter(pk=user.pk).delete()

    assert client.get(url).status_code == 404
    assert files.folder(picture.pk).exists()
    counts = cleanup.run()
    assert images_counts(counts)["pictures of deleted users"] == 1
    assert not Picture.objects.exists() and not files.folder(picture.pk).exists()


def test_replaced_pictures_go_a_day_later(client, run_tasks, ready_picture):
    user, old = ready_picture
    data.upload(client, data.png())
    run_tasks()
    new = Picture.objects.exclude(pk=old.pk).get()

    assert images_counts(cleanup.run())["replaced pictures"] == 0
    assert files.folder(old.pk).exists()
    counts = cleanup.run(now=timezone.now() + timedelta(hours=25))

    assert images_counts(counts)["replaced pictures"] == 1
    assert not files.folder(old.pk).exists() and files.folder(new.pk).exists()
    assert list(Picture.objects.values_list("pk", flat=True)) == [new.pk]


def test_refused_pictures_rows_go_after_thirty_days(client, run_tasks):
    data.signed_in(client)
    data.upload(client, data.truncated(data.phone_photo(), 0.3))
    run_tasks()
    assert Picture.objects.get().status == "failed"

    assert images_counts(cleanup.run(now=timezone.now() + timedelta(days=29)))["refused pictures"] == 0
    assert images_counts(cleanup.run(now=timezone.now() + timedelta(days=31)))["refused pictures"] == 1
    assert not Picture.objects.exists()


def test_orphan_folders_go_after_an_hour(ready_picture):
    _, picture = ready_picture
    orphan = files.root() / "999999"
    with files.private_file(orphan / "original") as f:
        f.write(b"left by a transaction that rolled back")
    young = files.root() / "999998"
    young.mkdir()

    an_hour_ago = time.time() - 3700
    os.utime(orphan, (an_hour_ago, an_hour_ago))

    assert images_counts(cleanup.run())["orphan picture folders"] == 1
    assert not orphan.exists() and young.exists() and files.folder(picture.pk).exists()


def test_dry_run_deletes_nothing(ready_picture):
    user, picture = ready_picture
    User.objects.filter(pk=user.pk).delete()

    assert images_counts(cleanup.run(dry_run=True))["pictures of deleted users"] == 1
    assert Picture.objects.exists() and files.folder(picture.pk).exists()


def test_sizes_not_made_and_pictures_not_ready_are_404(client):
    data.signed_in(client)
    data.upload(client, data.phone_photo())
    picture = Picture.objects.get()

    assert client.get(f"/images/{picture.pk}-{picture.key}/256/").status_code == 404  # still processing
    picture.status, picture.sizes = "ready", {"256": [1, 1]}
    picture.save()
    assert client.get(f"/images/{picture.pk}-{'0' * 16}/256/").status_code == 404  # wrong key
    assert client.get(f"/images/{picture.pk}-{picture.key}/512/").status_code == 404  # no such size
    assert client.get(f"/images/{picture.pk}-{picture.key}/256/").status_code == 404  # no file
    client.logout()
    assert client.get(f"/images/{picture.pk}-{picture.key}/256/").status_code == 302  # to the log-in page
