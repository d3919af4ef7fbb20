"""The operations page and the admin outbox at 1280 px and on a phone (390 px), in headless Chromium.

Nothing overlaps and no column is cut: every table fits its box or scrolls inside it on purpose. The
screenshots go to the test's tmp_path, or to docs/ (docs/operations-1280.png and the rest, small enough to keep in
git) with `make screenshots`.
"""

import shutil
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.utils import timezone

from notifications.models import Message
from operations.models import Heartbeat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
WIDTHS = {"1280": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

# Boxes and their children that must not overflow: (container, what is inside it).
OVERLAP_JS = """
() => {
  const boxes = [...document.querySelectorAll(arguments_selector)].map(e => [e, e.getBoundingClientRect()]);
  const out = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, r] = boxes[i], [b, s] = boxes[j];
    if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1)
      out.push(`${a.id || a.className} overlaps ${b.id || b.className}`);
  }
  return out;
}
"""


@pytest.fixture
def rows():
    # Before the browser starts: Playwright's sync API runs an event loop, where Django refuses ORM calls.
    User.objects.create_superuser("boss", "boss@example.com", "a-Long-pass-42")
    now = timezone.now()
    queue = "sqlite:////srv/mysite/var/huey.sqlite3"
    for pid, age in ((48213, 2), (48101, 400)):
        seen = now - timedelta(seconds=age)
        Heartbeat.objects.create(
            host="web-1.example.com", pid=pid, queue=queue, workers=4, started_at=seen, last_seen=seen
        )
    for i in range(6):
        send_mail(
            f"Your weekly report of sign-ups, number {i}", "Body", "noreply@example.com", [f"someone.{i}@example.com"]
        )
    Message.objects.filter(pk__in=Message.objects.order_by("pk").values("pk")[:3]).update(
        status=Message.Status.SENT, sent_at=now, attempts=1
    )


@pytest.fixture
def browser(rows):
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def signed_in(browser, live_server, viewport):
    page = browser.new_page(viewport=viewport)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "a-Long-pass-42")
    page.click("input[type=submit]")
    return page


def overlaps(page, selector):
    return page.evaluate(OVERLAP_JS.replace("arguments_selector", repr(selector)))


def clipped(page, selector):
    """Cells under ``selector`` that stick out of the viewport or out of their scroll box unseen."""
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].filter(c => {
             const r = c.getBoundingClientRect();
             return r.width > 0 && (r.right > window.innerWidth + 1 || r.left < -1);
           }).map(c => c.innerText.trim().slice(0, 30))""",
        selector,
    )


@pytest.mark.parametrize("size", WIDTHS)
def test_the_operations_page_reads_well(browser, live_server, size, screenshots):
    page = signed_in(browser, live_server, WIDTHS[size])
    page.goto(f"{live_server.url}/operations/")
    page.screenshot(path=str(screenshots / f"operations-{size}.png"), full_page=True)

    assert overlaps(page, ".ops-grid > .module") == []
    assert clipped(page, "#content-main th, #content-main td") == []
    state = page.locator("#ops-consumers tbody tr").first.locator("td").last
    assert state.inner_text() == "alive" and state.is_visible()
    assert "sqlite:////srv/mysite/var/huey.sqlite3" in page.locator("#ops-consumers").inner_text()


@pytest.mark.parametrize("size", WIDTHS)
def test_the_admin_outbox_shows_every_column(browser, live_server, size, screenshots):
    page = signed_in(browser, live_server, WIDTHS[size])
    page.goto(f"{live_server.url}/admin/notifications/message/")
    page.screenshot(path=str(screenshots / f"admin-outbox-{size}.png"), full_page=True)

    assert clipped(page, "#result_list th, #result_list td") == []
    shown = [h.strip().lower() for h in page.locator("#result_list thead th:visible").all_inner_texts()]
    if size == "1280":
        assert [h for h in shown if h] == ["id", "subject", "to", "status", "attempts", "created", "sent"]
        sent = page.locator("#result_list td.field-sent").last
        assert sent.is_visible() and sent.inner_text().strip()
    else:  # the status says "sent 10:42"; the rest is on the message's page
        assert [h for h in shown if h] == ["id", "subject", "status", "created"]
    assert page.locator("#result_list td.field-state").last.inner_text().startswith("sent ")
