"""Issue 21's layout, in headless Chromium at 1280 px and on a phone (390 px), checked by element boxes.

Admin change lists show every column at 1280 px; a failed task's page is as wide as the screen; task names on
the operations page break between words; the webhook URL field shows a URL; row counts have thousands
separators; a refusal ("damaged") goes once a later upload is made. The screenshots go to the test's tmp_path,
or to docs/ with `make screenshots`.
"""

import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from durable import claim
from durable.models import Task, TaskAttempt
from images import intake
from images.decoding import DAMAGED
from images.forms import PictureForm
from images.models import Picture
from reports.models import Report
from tests import images_data
from webhooks.models import Delivery, Endpoint, Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
DOCS = Path(__file__).resolve().parent.parent / "docs"
WIDTHS = {"1280": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PASSWORD = "a-Long-pass-42"
HOOK = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"  # 80 characters
TRACEBACK = (
    "Traceback (most recent call last):\n"
    + "".join(
        f'  File "/srv/mysite/app/.venv/lib/python3.11/site-packages/partner_api/client/v{i}/transport.py", '
        f"line {40 + i}, in send_order_notification_with_retries\n"
        "    response = self.session.post(self.endpoint_url, json=payload, timeout=self.timeout_seconds)\n"
        for i in range(6)
    )
    + "RuntimeError: the partner's API answered 503 Service Unavailable: upstream connect error or "
    "disconnect/reset before headers. reset reason: connection termination\n"
)
CHANGE_LISTS = ["durable/task", "webhooks/delivery", "webhooks/endpoint", "reports/report", "images/picture"]


@pytest.fixture
def rows(tmp_path):
    """What a site in use has (before the browser starts: Playwright's event loop refuses ORM calls)."""
    boss = User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    now = timezone.now()
    # Ada's picture is ready (uploaded and made as the site does), and her next upload was found damaged.
    photo = tmp_path / "me.jpg"
    photo.write_bytes(images_data.phone_photo(400, 300))
    ada = User.objects.create_user("ada", "ada@example.com", PASSWORD)
    form = PictureForm(files={"picture": SimpleUploadedFile("me.jpg", photo.read_bytes(), "image/jpeg")})
    assert form.is_valid(), form.errors
    intake.accept(ada, form.cleaned_data["picture"], form.inspection)
    claim.run_due()  # before the tasks below, which stay queued
    assert Picture.objects.get(user=ada).status == "ready"
    common = {"user": ada, "source_format": "JPEG", "width": 400, "height": 300, "output": "webp"}
    Picture.objects.create(sha256="0" * 64, status="failed", error=DAMAGED, finished_at=now, **common)
    for i, name in enumerate(["webhooks.tasks.deliver", "images.tasks.make_sizes", "operations.tasks.send_test_email"]):
        Task.objects.create(name=name, due_at=now, args=[i])
    failed = Task.objects.create(
        name="partners.tasks.notify_partner_about_the_order",
        status=Task.Status.FAILED,
        attempts=3,
        args=[42],
        due_at=now,
        finished_at=now,
        last_error=TRACEBACK.splitlines()[-1],
        traceback=TRACEBACK,
    )
    for number in (1, 2, 3):
        TaskAttempt.objects.create(
            task=failed,
            number=number,
            started_at=now,
            finished_at=now,
            worker_id="web-1.example.com:48213",
            outcome="retry" if number < 3 else "failed",
            error_class="builtins.RuntimeError",
            error=TRACEBACK.splitlines()[-1],
            traceback=TRACEBACK,
        )
    report = Report.objects.create(
        owner=boss, type="signups", status="done", progress=100, row_count=23470, size=1234567, finished_at=now
    )
    report.file.save("signups.csv", ContentFile(b"date,sign-ups\n"))
    endpoint = Endpoint.objects.create(
        name="Partner CRM", url="https://crm.partner.example.com/hooks/mysite/v2/incoming", events=["user.signed_up"]
    )
    for i in range(3):
        Delivery.objects.create(
            endpoint=endpoint,
            event=Event.objects.create(type="user.signed_up", data={"id": i}),
            attempts=3,
            last_error="HTTP 503 from crm.partner.example.com: upstream connect error or disconnect/reset before headers",
        )
    for i in range(3):
        Picture.objects.create(
            user=boss,
            sha256=f"{i:064x}",
            status="failed",
            error=DAMAGED,
            source_format="JPEG",
            width=4032,
            height=3024,
            output="webp",
            finished_at=now,
        )
    not_a_picture = tmp_path / "notes.jpg"
    not_a_picture.write_bytes(images_data.TEXT)
    return {"failed": failed, "report": report, "photo": photo, "not_a_picture": not_a_picture}


@pytest.fixture
def browser(rows):
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def signed_in(browser, live_server, size, username="boss"):
    page = browser.new_page(viewport=WIDTHS[size])
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main [type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def page_width(page):
    return page.evaluate("document.documentElement.scrollWidth")


def shoot(page, folder, name, height=None):
    """A screenshot in ``folder`` (its first ``height`` pixels when given); for docs/, in 64 colours: a few tens of
    kilobytes."""
    from PIL import Image

    path = folder / f"{name}.png"
    if height:
        width = page.viewport_size["width"]
        height = min(height, page.evaluate("document.documentElement.scrollHeight"))
        page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
    else:
        page.screenshot(path=str(path), full_page=True)
    if folder != DOCS:
        return
    with Image.open(path) as image:
        image.convert("RGB").quantize(64).save(path, optimize=True)


@pytest.mark.parametrize("changelist", CHANGE_LISTS)
def test_admin_change_lists_show_every_column_at_1280_px(browser, live_server, changelist, screenshots):
    page = signed_in(browser, live_server, "1280")
    page.goto(f"{live_server.url}/admin/{changelist}/")

    box = page.evaluate(
        """() => { const r = document.querySelector('#changelist .results'), h = [...r.querySelectorAll('thead th')];
                   return {scroll: r.scrollWidth, width: r.clientWidth, right: r.getBoundingClientRect().right,
                           last: h[h.length - 1].getBoundingClientRect().right}; }"""
    )
    assert box["scroll"] <= box["width"] + 1, box  # nothing hidden in a sideways scroll box
    assert box["last"] <= box["right"] + 1 <= 1281, box  # the last column in view
    if changelist == "durable/task":
        names = page.locator("#result_list td.field-name")
        assert [n.evaluate(BREAKS_JS) for n in names.all() if set(n.evaluate(BREAKS_JS)) - set("._ ")] == []
        shoot(page, screenshots, "admin-tasks-1280")
        phone = signed_in(browser, live_server, "phone")
        phone.goto(f"{live_server.url}/admin/{changelist}/")
        assert page_width(phone) <= 390
        shoot(phone, screenshots, "admin-tasks-phone")


@pytest.mark.parametrize("size", WIDTHS)
def test_a_failed_tasks_page_is_as_wide_as_the_screen(browser, live_server, rows, size, screenshots):
    page = signed_in(browser, live_server, size)
    page.goto(f"{live_server.url}/admin/durable/task/{rows['failed'].pk}/change/")
    shoot(page, screenshots, f"admin-task-failed-{size}", height=2000 if size == "1280" else 3000)

    width = WIDTHS[size]["width"]
    assert page_width(page) <= width  # it was 1,989 px: traceback lines did not wrap
    traceback = page.locator(".field-traceback .readonly").first
    box = traceback.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert "connection termination" in traceback.inner_text()  # wrapped, not cut
    if size == "1280":  # the attempts' tracebacks get room too
        assert page.locator("#attempt_log-group td.field-traceback").first.bounding_box()["width"] >= 300


BREAKS_JS = """(cell) => {
  // Where the lines of a cell's text break: for each break, the character before it (" " for a space).
  const chars = [];
  let space = false, prev = "";
  const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode())
    for (let i = 0; i < node.length; i++) {
      if (!node.data[i].trim()) { space = true; prev = " "; continue; }
      const range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (rect) chars.push([space ? " " : prev, rect.top]);
      space = false; prev = node.data[i];
    }
  const before = [];
  for (let i = 1; i < chars.length; i++) if (chars[i][1] > chars[i - 1][1] + 2) before.push(chars[i][0]);
  return before;
}"""


@pytest.mark.parametrize("size", WIDTHS)
def test_task_names_on_the_operations_page_break_between_words(browser, live_server, size):
    page = signed_in(browser, live_server, size)
    page.goto(f"{live_server.url}/operations/")

    assert page_width(page) <= WIDTHS[size]["width"]
    names = page.locator(  # the cells that hold task names, wherever the page shows them
        "#ops-periodic tbody td:first-child, #ops-durable tbody td:first-child, #durable-failures td:nth-child(2)"
    )
    assert names.count() >= 8  # Huey's periodic tasks, the durable tasks, their latest failures
    fragments = {}
    for i in range(names.count()):
        cell = names.nth(i)
        breaks = cell.evaluate(BREAKS_JS)
        if any(c not in "._ " for c in breaks):
            fragments[cell.inner_text()] = breaks
    assert fragments == {}, "task names broken inside a word"
    if size == "phone":  # and some did break, between words
        assert any(names.nth(i).evaluate(BREAKS_JS) for i in range(names.count()))


@pytest.mark.parametrize("size", WIDTHS)
def test_the_webhook_url_field_shows_a_url(browser, live_server, size, screenshots):
    page = signed_in(browser, live_server, size)
    page.goto(f"{live_server.url}/admin/webhooks/endpoint/add/")
    page.fill("#id_name", "Team chat")
    page.fill("#id_url", HOOK)
    page.locator("#id_url").blur()
    shoot(page, screenshots, f"admin-webhook-{size}")

    field = page.evaluate(
        """() => { const u = document.querySelector('#id_url'), r = u.getBoundingClientRect();
                   const row = u.closest('.form-row').getBoundingClientRect();
                   return {scroll: u.scrollWidth, width: u.clientWidth, right: r.right, left: r.left, row: row.right}; }"""
    )
    assert field["right"] <= WIDTHS[size]["width"] and page_width(page) <= WIDTHS[size]["width"]
    if size == "1280":
        assert field["scroll"] <= field["width"], field  # the whole URL shows
    else:  # as wide as the phone allows
        assert field["right"] - field["left"] >= 0.9 * (field["row"] - field["left"]) - 30, field


@pytest.mark.parametrize("size", WIDTHS)
def test_row_counts_have_thousands_separators(browser, live_server, rows, size, screenshots):
    page = signed_in(browser, live_server, size)
    page.goto(f"{live_server.url}{rows['report'].get_absolute_url()}")
    shoot(page, screenshots, f"report-done-{size}")

    line = page.locator("#line")
    assert line.inner_text().replace("\xa0", " ").startswith("Done: 23,470 rows, 1.2 MB")
    assert line.bounding_box()["x"] + line.bounding_box()["width"] <= WIDTHS[size]["width"]
    page.goto(f"{live_server.url}/reports/")
    assert "23,470" in page.locator("main table").inner_text()
    page.goto(f"{live_server.url}/admin/reports/report/")
    assert page.locator("#result_list td.field-rows").first.inner_text() == "23,470"
    assert page.locator("#result_list td.field-file_size").first.inner_text().replace("\xa0", " ") == "1.2 MB"


@pytest.mark.parametrize("size", WIDTHS)
def test_a_damaged_upload_is_no_longer_shown_after_a_later_upload(browser, live_server, rows, size, screenshots):
    photo, not_a_picture = rows["photo"], rows["not_a_picture"]
    page = signed_in(browser, live_server, size, username="ada")
    page.goto(f"{live_server.url}/images/")
    assert page.inner_text("#picture-state") == DAMAGED  # the news of that upload

    page.set_input_files("#id_picture", str(photo))  # their current picture again: it stays
    page.click("#upload")
    page.wait_for_url(f"{live_server.url}/images/")
    assert "That picture is already your picture." in page.inner_text(".messages")
    assert page.inner_text("#picture-state") == ""
    assert page.locator("#picture-state").bounding_box()["height"] < 40  # no line of stale error
    page.reload()
    assert page.inner_text("#picture-state") == ""
    shoot(page, screenshots, f"picture-{size}")

    page.set_input_files("#id_picture", str(not_a_picture))  # refused at the form: that is the news
    page.click("#upload")
    assert "This file is not a picture we can read." in page.inner_text("form .errorlist")
    assert page.inner_text("#picture-state") == ""
    assert page_width(page) <= WIDTHS[size]["width"]
