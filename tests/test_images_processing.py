"""Upload -> private original -> durable task -> published sizes: turned the right way up, with no metadata."""

import io
import os
import stat

import pytest
from PIL import Image

from images import files
from images.models import Picture
from tests import images_data as data

pytestmark = pytest.mark.django_db


def derived_image(picture, size):
    return Image.open(files.derived(picture.pk, size, "webp"))


def test_it_stores_the_original_privately_and_answers_before_any_size_is_made(client):
    user = data.signed_in(client)
    photo = data.phone_photo()

    response = data.upload(client, photo)

    assert response.status_code == 302 and response["Location"] == "/images/"
    picture = Picture.objects.get(user=user)
    assert picture.status == "processing" and picture.task_id
    original = files.original(picture.pk)
    assert original.read_bytes() == photo
    assert stat.S_IMODE(original.stat().st_mode) == 0o640
    assert stat.S_IMODE(original.parent.stat().st_mode) & 0o007 == 0  # nothing for other users
    assert not list(original.parent.glob("*.webp"))  # the request made no size
    page = client.get("/images/")
    assert "Processing your new picture" in page.content.decode()


def test_it_makes_each_size_turned_upright_with_no_location_left(client, run_tasks):
    user = data.signed_in(client)
    data.upload(client, data.phone_photo(800, 600, orientation=6))

    assert run_tasks() == 1

    picture = Picture.objects.get(user=user)
    assert picture.status == "ready"
    assert picture.sizes == {"1024": [600, 800], "256": [192, 256], "64": [48, 64]}  # portrait now
    for size in (64, 256, 1024):
        path = files.derived(picture.pk, size, "webp")
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        raw = path.read_bytes()
        im = Image.open(io.BytesIO(raw))
        assert im.format == "WEBP"
        assert max(im.size) == min(size, 800) and im.height > im.width
        # The sensor's left half (red) is now the top: the camera's orientation was applied to the pixels.
        top, bottom = (
            im.convert("RGB").getpixel((im.width // 2, 2)),
            im.convert("RGB").getpixel((im.width // 2, im.height - 3)),
        )
        assert top[0] > 150 and top[2] < 80, top
        assert bottom[2] > 150 and bottom[0] < 80, bottom
        assert not im.getexif() and "exif" not in im.info and "icc_profile" not in im.info and "xmp" not in im.info
        for secret in (b"Exif", b"GPS", b"PhoneMaker", b"Phone 15", b"taken at home"):
            assert secret not in raw


def test_it_serves_sizes_with_cache_headers_and_an_etag(client, run_tasks):
    data.signed_in(client)
    data.upload(client, data.phone_photo())
    run_tasks()
    picture = Picture.objects.get()

    response = client.get(picture.url(256))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert "max-age=31536000" in response["Cache-Control"] and "immutable" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response["ETag"] == picture.etag
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (192, 256)
    again = client.get(picture.url(256), headers={"if-none-match": picture.etag})
    assert again.status_code == 304 and again["ETag"] == picture.etag


def test_the_page_and_the_home_page_show_the_picture_once_ready(client, run_tasks):
    data.signed_in(client)
    data.upload(client, data.phone_photo())
    run_tasks()
    picture = Picture.objects.get()

    page = client.get("/images/").content.decode()
    status = client.get("/images/status/").json()
    home = client.get("/").content.decode()

    assert picture.url(256) in page and "Processing" not in page
    assert status == {
        "state": "ready",
        "message": "",
        "current": {
            "id": picture.pk,
            "src": picture.url(256),
            "large": picture.url(1024),
            "urls": {"64": picture.url(64), "256": picture.url(256), "1024": picture.url(1024)},
        },
    }
    assert picture.url(64) in home


def test_the_old_picture_stays_until_the_new_one_is_ready(client, run_tasks):
    data.signed_in(client)
    data.upload(client, data.phone_photo())
    run_tasks()
    old = Picture.objects.get()

    data.upload(client, data.png())
    status = client.get("/images/status/").json()
    assert status["state"] == "processing" and status["current"]["id"] == old.pk
    assert client.get(old.url(256)).status_code == 200

    run_tasks()
    new = Picture.objects.exclude(pk=old.pk).get()
    old.refresh_from_db()
    assert new.status == "ready" and old.status == "replaced"
    assert client.get("/images/status/").json()["current"]["id"] == new.pk


def test_a_second_run_of_the_task_does_no_harm(client, run_tasks):
    from images import processing

    data.signed_in(client)
    data.upload(client, data.phone_photo())
    run_tasks()
    picture = Picture.objects.get()
    made = {p: p.stat().st_mtime_ns for p in files.folder(picture.pk).glob("*.webp")}

    assert processing.process(picture.pk) == "skipped"
    assert {p: p.stat().st_mtime_ns for p in files.folder(picture.pk).glob("*.webp")} == made


def test_originals_have_no_url(client, run_tasks):
    data.signed_in(client)
    data.upload(client, data.phone_photo())
    run_tasks()
    picture = Picture.objects.get()

    for url in (f"/images/{picture.pk}-{picture.key}/original/", f"/media/private/images/{picture.pk}/original"):
        assert client.get(url).status_code == 404
    assert os.path.exists(files.original(picture.pk))
