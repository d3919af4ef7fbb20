"""Every kind of bad upload gets a clear message, and leaves nothing behind: no row, no file, no job."""

import io

import pytest
from PIL import Image

from durable.models import Task
from images import decoding, files, processing
from images.models import Picture
from tests import images_data as data

pytestmark = pytest.mark.django_db
NOT_AN_IMAGE = "This file is not a picture we can read. Upload a JPEG, PNG, WebP or GIF image."
DAMAGED = "This picture is damaged or incomplete"


def nothing_left():
    return not Picture.objects.exists() and not Task.objects.exists() and not list(files.root().glob("*/*"))


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.jpg", data.TEXT),  # a lying extension
        ("page.png", data.HTML),
        ("drawing.svg", data.SVG),
        ("drawing.png", data.SVG),
        ("photo.bmp", data.bmp()),  # an image, but not a format we publish from
        ("scan.tiff", data.tiff()),
        ("IMG_0001.HEIC", data.HEIC),  # an iPhone's own format: Pillow does not read it
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 200),  # JPEG's magic number and nothing else
        ("empty.jpg", b""),
    ],
)
def test_it_refuses_what_is_not_one_of_our_formats(client, name, content):
    data.signed_in(client)

    response = data.upload(client, content, name=name)

    assert response.status_code == 400
    body = response.content.decode()
    assert NOT_AN_IMAGE in body or DAMAGED in body or "The submitted file is empty" in body
    assert nothing_left()


def test_the_content_decides_not_the_name(client, run_tasks):
    data.signed_in(client)

    response = data.upload(client, data.png(), name="photo.jpg", content_type="image/jpeg")

    assert response.status_code == 302
    run_tasks()
    picture = Picture.objects.get()
    assert picture.source_format == "PNG" and picture.status == "ready"


def test_it_refuses_a_truncated_png_in_the_request(client):
    data.signed_in(client)

    response = data.upload(client, data.truncated(data.noisy_png()), name="a.png")

    assert response.status_code == 400 and DAMAGED in response.content.decode()
    assert nothing_left()


def test_a_truncated_jpeg_is_refused_by_the_task_and_the_old_picture_stays(client, run_tasks):
    data.signed_in(client)
    data.upload(client, data.phone_photo())
    run_tasks()
    old = Picture.objects.get()

    assert data.upload(client, data.truncated(data.phone_photo(orientation=1), 0.3)).status_code == 302
    run_tasks()

    bad = Picture.objects.exclude(pk=old.pk).get()
    assert bad.status == "failed" and bad.error.startswith(DAMAGED)
    assert not files.folder(bad.pk).exists()  # nothing half-done: no original, no size
    status = client.get("/images/status/").json()
    assert status["state"] == "failed" and status["message"].startswith(DAMAGED)
    assert status["current"]["id"] == old.pk
    assert DAMAGED in client.get("/images/").content.decode()
    assert Task.objects.get(pk=bad.task_id).status == "successful"  # refused is an outcome, not a retry


@pytest.mark.parametrize("size", [(8000, 8000), (12_001, 10)])
def test_it_refuses_too_many_pixels_before_decoding(client, size):
    data.signed_in(client)

    response = data.upload(client, data.bomb_png(*size), name="big.png")

    assert response.status_code == 400
    body = response.content.decode()
    assert f"This picture is too large ({size[0]} × {size[1]} pixels)" in body
    assert "The limit is 50 megapixels and 12000 pixels on the longest side." in body
    assert nothing_left()


def test_pillow_refuses_a_bomb_past_twice_the_limit_by_itself():
    decoding.inspect(io.BytesIO(data.png(10, 10)), decoding.Limits(50_000_000, 12_000))  # our first picture
    assert Image.MAX_IMAGE_PIXELS == 50_000_000  # set on purpose by images.decoding, not Pillow's default
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data.bomb_png(11_000, 11_000)))


def test_the_task_checks_the_limits_again(tmp_path, settings):
    """Limits lowered after an upload was accepted: the task refuses it without decoding it."""
    source = tmp_path / "original"
    source.write_bytes(data.png(400, 400))
    with pytest.raises(decoding.ImageRefused) as refused:
        decoding.render(source, 1, [64], "webp", decoding.Limits(max_pixels=100_000, max_side=10_000))
    assert refused.value.code == "pixels"


def test_a_jpeg_is_decoded_at_reduced_scale(tmp_path, monkeypatch):
    """Memory bounded while decoding: a 3000x2000 photo made into 256 px decodes at 1/8 scale (375x250)."""
    from PIL import ImageFile

    source = tmp_path / "original"
    Image.new("RGB", (3000, 2000), "red").save(source, "JPEG")
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(im):
        decoded.append(im.size)
        return real_load(im)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    made = decoding.render(source, 1, [256], "webp", decoding.Limits(50_000_000, 12_000))

    assert made == {256: [256, 171]}
    assert decoded[0] == (375, 250)  # 0.1 million pixels decoded instead of 6


def test_over_the_size_limit_is_refused_before_the_body_is_read(client, settings):
    settings.IMAGES_MAX_UPLOAD_BYTES = 100_000
    data.signed_in(client)
    read = []

    class Body(io.BytesIO):
        def read(self, *args):
            chunk = super().read(*args)
            read.append(len(chunk))
            return chunk

    response = client.generic(
        "POST",
        "/images/upload/",
        b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(500 * 2**20),
        **{"wsgi.input": Body(b"--xyz\r\n" + b"x" * 1000)},
    )

    assert response.status_code == 413
    assert "This file is too large: the limit is 0.0953674 MB." in response.content.decode()
    assert sum(read) == 0
    assert nothing_left()


def test_a_file_over_the_limit_is_dropped_while_it_arrives(client, settings):
    """A Content-Length within the envelope's slack: the upload handler counts the bytes and drops the file."""
    settings.IMAGES_MAX_UPLOAD_BYTES = 20_000
    data.signed_in(client)
    photo = data.phone_photo(1200, 900)
    assert 20_000 < len(photo) < 20_000 + 60_000

    response = data.upload(client, photo)

    assert response.status_code == 413
    body = response.content.decode()
    assert "This file is too large: the limit is 0.0190735 MB." in body and "This field is required" not in body
    assert nothing_left()


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_an_animated_image_publishes_its_first_frame(client, run_tasks, fmt):
    data.signed_in(client)
    data.upload(client, data.animated(fmt), name=f"moving.{fmt.lower()}")
    run_tasks()

    picture = Picture.objects.get()
    assert picture.status == "ready"
    im = Image.open(files.derived(picture.pk, 64, "webp"))
    assert not getattr(im, "is_animated", False)
    r, g, b = im.convert("RGB").getpixel((10, 10))
    assert r > 200 and g < 60 and b < 60  # the first frame is red


@pytest.mark.parametrize(
    "content, expect",
    [
        (data.cmyk_jpeg(), lambda rgb: rgb[0] > 200 and rgb[1] < 80 and rgb[2] < 80),  # CMYK red stays red
        (data.sixteen_bit_png(value=40000), lambda rgb: 140 < rgb[0] < 170 and rgb[0] == rgb[1] == rgb[2]),
        (data.transparent_png(), lambda rgb: True),
    ],
    ids=["cmyk", "16-bit", "transparent"],
)
def test_cmyk_16_bit_and_transparent_images_are_converted(client, run_tasks, content, expect):
    data.signed_in(client)
    data.upload(client, content, name="x.img")
    run_tasks()

    picture = Picture.objects.get()
    assert picture.status == "ready", picture.error
    im = Image.open(files.derived(picture.pk, 64, "webp"))
    assert im.mode in ("RGB", "RGBA")
    assert expect(im.convert("RGB").getpixel((5, 5))), im.convert("RGB").getpixel((5, 5))


def test_the_same_upload_twice_makes_no_second_job(client, run_tasks):
    data.signed_in(client)
    photo = data.phone_photo()
    data.upload(client, photo)

    response = data.upload(client, photo)
    assert response.status_code == 302
    assert "That picture is already being processed." in client.get("/images/").content.decode()
    assert Picture.objects.count() == 1 and Task.objects.count() == 1

    run_tasks()
    data.upload(client, photo)
    assert "That picture is already your picture." in client.get("/images/").content.decode()
    assert Picture.objects.count() == 1 and Task.objects.count() == 1


def test_another_user_may_upload_the_same_file(client, run_tasks):
    photo = data.phone_photo()
    data.signed_in(client, "ada")
    data.upload(client, photo)
    data.signed_in(client, "bob")
    data.upload(client, photo)

    assert Picture.objects.count() == 2


def test_a_picture_whose_task_gave_up_says_so(client):
    data.signed_in(client)
    data.upload(client, data.phone_photo())
    picture = Picture.objects.get()
    Task.objects.filter(pk=picture.task_id).update(status="failed")  # as after its consumer died three times

    status = client.get("/images/status/").json()

    assert status["state"] == "failed" and "could not be processed" in status["message"]
    picture.refresh_from_db()
    assert picture.status == "failed" and not files.folder(picture.pk).exists()


def test_upload_needs_a_signed_in_user_and_a_csrf_token(client):
    from django.test import Client

    assert data.upload(client, data.png()).status_code == 302  # to the log-in page
    strict = Client(enforce_csrf_checks=True)
    data.signed_in(strict)
    assert data.upload(strict, data.png()).status_code == 403
    assert nothing_left()


def test_uploads_are_rate_limited_per_user(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "images": {"client": "", "account": "2/h"}}
    data.signed_in(client)

    answers = [data.upload(client, data.png(color=(i, 0, 0))).status_code for i in range(3)]

    assert answers == [302, 302, 429]
    assert Picture.objects.count() == 2


def test_uploading_the_current_picture_again_cancels_a_newer_one_still_processing(client, run_tasks):
    data.signed_in(client)
    first = data.phone_photo()
    data.upload(client, first)
    run_tasks()
    current = Picture.objects.get()
    data.upload(client, data.png())
    newer = Picture.objects.exclude(pk=current.pk).get()

    data.upload(client, first)
    run_tasks()  # the newer one's task finds it cancelled and does nothing

    assert "The upload still processing was cancelled, so it stays." in client.get("/images/").content.decode()
    newer.refresh_from_db()
    current.refresh_from_db()
    assert newer.status == "failed" and current.status == "ready"
    assert not files.folder(newer.pk).exists()
    assert client.get("/images/status/").json()["current"]["id"] == current.pk


def test_a_picture_cancelled_while_its_task_works_leaves_no_files(client, monkeypatch):
    from images import processing

    data.signed_in(client)
    data.upload(client, data.phone_photo())
    picture = Picture.objects.get()
    real_render = decoding.render

    def cancelled_meanwhile(*args):
        # keep_current cancelled it (and removed its folder) just as this task started writing its sizes
        Picture.objects.filter(pk=picture.pk).update(status="failed", error="Cancelled.")
        return real_render(*args)

    monkeypatch.setattr(decoding, "render", cancelled_meanwhile)

    assert processing.process(picture.pk) == "skipped"
    assert not files.folder(picture.pk).exists()


def test_a_picture_is_budgeted_by_the_bytes_it_decodes_to_not_by_its_pixels(client):
    """Issue 20, finding 12: a 0.6 MB 7000 × 7000 16-bit RGBA PNG (49 MP, under the 50-MP limit) took 455 MB."""
    amplifier = data.hand_png(7000, 7000, depth=16, alpha=True)
    assert len(amplifier) < 1_000_000
    data.signed_in(client)

    response = data.upload(client, amplifier, name="small.png", content_type="image/png")

    assert response.status_code == 400
    body = response.content.decode()
    assert "This picture is too large to process (7000 × 7000 pixels, RGBA: about 467 MB decoded" in body
    assert "the limit is 300 MB" in body
    assert nothing_left()


def test_a_photo_of_the_same_size_still_fits_the_budget():
    inspection = decoding.inspect(io.BytesIO(data.hand_png(7000, 7000, depth=8, alpha=False)), processing.limits())
    assert (inspection.width, inspection.height) == (7000, 7000)  # 294 MB decoded, under 300
