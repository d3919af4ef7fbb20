"""Pictures with a real consumer process: made in the background, and made even when the consumer is killed
(on each queue storage: SQLite, then Redis)."""

import pytest

from durable.models import Task
from images import files
from images.models import Picture
from testing.plugin import wait_until
from tests import images_data as data

pytestmark = [pytest.mark.consumer, pytest.mark.django_db(transaction=True)]


def test_a_consumer_makes_the_sizes(client, start_consumer):
    data.signed_in(client)
    data.upload(client, data.phone_photo())
    start_consumer()

    wait_until(lambda: client.get("/images/status/").json()["state"] == "ready", message="the picture to be ready")

    picture = Picture.objects.get()
    assert sorted(p.name for p in files.folder(picture.pk).iterdir()) == [
        "1024.webp",
        "256.webp",
        "64.webp",
        "original",
    ]
    assert Task.objects.get(pk=picture.task_id).group == "cpu"


def test_kill_9_mid_processing_and_the_picture_still_appears(client, queue_url, start_consumer):
    data.signed_in(client)
    data.upload(client, data.slow_png(), name="big.png")
    picture = Picture.objects.get()
    consumer = start_consumer()
    wait_until(
        lambda: Task.objects.filter(pk=picture.task_id, status="running").exists(),
        interval=0.01,
        message="the picture's task to run",
    )

    consumer.kill()
    assert Picture.objects.get().status == "processing"  # killed in the middle
    start_consumer()  # on the same host: it sees the dead pid and runs the task again at once

    wait_until(
        lambda: client.get("/images/status/").json()["state"] == "ready", timeout=60, message="the picture to appear"
    )
    picture.refresh_from_db()
    # The picture is ready as the task's last step; the task's outcome commits just after (seen under load).
    wait_until(
        lambda: Task.objects.exclude(status="running").filter(pk=picture.task_id).exists(), message="the task's outcome"
    )
    task = Task.objects.get(pk=picture.task_id)
    assert task.status == "successful" and task.attempts == 2
    assert list(task.attempt_log.values_list("error_class", flat=True)) == ["durable.exceptions.ConsumerLost", ""]
    assert picture.sizes == {"1024": [1024, 683], "256": [256, 171], "64": [64, 43]}
    assert not list(files.folder(picture.pk).glob(".*"))  # no half-written file left behind
