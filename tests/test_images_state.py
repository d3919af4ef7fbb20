"""images.intake.state: what the picture page polls, read while the consumer finishes a picture."""

import pytest
from django.contrib.auth.models import User
from django.db import connection

from images import intake
from images.models import Picture

pytestmark = pytest.mark.django_db


def test_a_picture_that_becomes_ready_between_the_reads_is_never_shown_as_no_picture_at_all():
    user = User.objects.create_user("ada")
    picture = Picture.objects.create(user=user, sha256="0" * 64, source_format="JPEG", width=4, height=3, output="webp")
    finished = []

    def consumer_finishes_after_the_first_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not finished and "images_picture" in sql:
            finished.append(True)  # the consumer's commit lands between state()'s two reads (a real UPDATE)
            Picture.objects.filter(pk=picture.pk).update(status=Picture.Status.READY)
        return result

    with connection.execute_wrapper(consumer_finishes_after_the_first_read):
        state = intake.state(user)

    assert finished
    assert state["processing"] == picture or state["current"] == picture  # the page keeps polling, or shows it
