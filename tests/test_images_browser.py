"""In headless Chromium: upload a phone photo, see "processing", then the picture, upright, without reloading.

The site runs in a real gunicorn process and the task in a real consumer, both on the test database.
`make screenshots` refreshes docs/images-page.png.
"""

import socket

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from tests import images_data as data
from tests.test_browser_reports import chromium  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.consumer, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(start_site):
    """The site under gunicorn on a free loopback port, on the test database, queue and MEDIA_ROOT."""
    return start_site().url


def test_the_page_shows_processing_then_the_picture_without_a_reload(
    chromium,  # noqa: F811 - the fixture imported above
    site,
    start_consumer,
    tmp_path,
    screenshots,
):
    User.objects.create_user("ada", "ada@example.com", "a-Long-pass-42")
    photo = tmp_path / "IMG_0001.JPG"
    photo.write_bytes(data.phone_photo(1600, 1200, orientation=6))
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(data.TEXT)

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(f"{site}/accounts/login/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", "a-Long-pass-42")
        page.click("button[type=submit]")
        page.click("text=Your picture")

        page.set_input_files("#id_picture", str(bad))
        page.click("#upload")
        refused = page.inner_text("form .errorlist")

        page.set_input_files("#id_picture", str(photo))
        page.click("#upload")
        page.wait_for_url(f"{site}/images/")
        processing = page.inner_text("#picture-state")
        page.evaluate("window.notReloaded = true")
        start_consumer()
        page.wait_for_function(
            "() => { const i = document.getElementById('picture'); return i.tagName === 'IMG' && i.complete"
            " && i.naturalWidth > 0; }",
            timeout=60_000,
        )
        still_same_page = page.evaluate("window.notReloaded === true")
        width, height = page.evaluate("[picture.naturalWidth, picture.naturalHeight]")
        state = page.inner_text("#picture-state")
        page.screenshot(path=str(screenshots / "images-page.png"), full_page=True)
        page.click("text=mysite")
        page.wait_for_function("() => { const a = document.querySelector('img.avatar'); return a && a.complete; }")
        home_avatar = page.evaluate("document.querySelector('img.avatar').naturalWidth")

    assert "This file is not a picture we can read." in refused
    assert processing == "Processing your new picture…"
    assert still_same_page
    assert (width, height) == (192, 256)  # upright (portrait) at the 256 size
    assert state == ""
    assert home_avatar == 48


def test_gunicorn_answers_413_before_the_body_is_sent(site):
    client = Client()
    client.force_login(User.objects.create_user("ada", "ada@example.com", "a-Long-pass-42"))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    port = int(site.rsplit(":", 1)[1])
    request = (
        "POST /images/upload/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: {settings.SESSION_COOKIE_NAME}={cookie}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {2 * 2**30}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())  # the headers only: 2 GB promised, none sent
        answer = b""
        while b"</html>" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    answer = answer.decode(errors="replace")

    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert "This file is too large: the limit is 10 MB." in answer
