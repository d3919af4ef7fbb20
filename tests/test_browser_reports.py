"""End to end in headless Chromium: sign in, ask for a report, watch the bar reach 100 %, download it.

The site runs in a real gunicorn process and the report in a real consumer, both on the test database.
`make screenshots` refreshes docs/report-page.png and docs/report-page-running.png.
"""

import contextlib
import csv
import time
from pathlib import Path

import pytest

from reports.models import Report
from testing.plugin import _ci
from tests.reports_data import READS_OUTBOX, many_outbox, user

pytestmark = [pytest.mark.browser, pytest.mark.consumer, pytest.mark.django_db(transaction=True)]
CHROMIUM = "/usr/bin/chromium"
ROWS = 200_000


@pytest.fixture
def chromium():
    """Factory: ``with chromium() as browser:``. Playwright runs an event loop, so no ORM calls inside the block."""
    if not Path(CHROMIUM).exists():
        if _ci():
            pytest.fail(f"{CHROMIUM} is missing (required under CI=true; `make browser` installs it)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    @contextlib.contextmanager
    def launch():
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                ],
            )
            try:
                yield browser
            finally:
                browser.close()

    return launch


@pytest.fixture
def site(start_site, queue_url):
    """The site under gunicorn on a free loopback port, on the test database and this test's queue."""
    return start_site().url


@pytest.mark.slow
@pytest.mark.parametrize("queue_url", ["sqlite"], indirect=True)
def test_a_user_generates_watches_and_downloads_a_report(chromium, site, start_report_consumer, screenshots):
    many_outbox(ROWS, day="2026-03-01")
    user("ada", perms=READS_OUTBOX)
    start_report_consumer(REPORTS_PROGRESS_INTERVAL_SECONDS=0.2)
    with chromium() as browser:
        seen, rows, filename, line = watch_and_download(browser, site, screenshots)

    assert any(0 < p < 100 for p in seen), seen  # the bar moved without a reload
    assert f"Done: {ROWS:,} rows" in line  # 200,000: thousands separated
    assert filename == "email-log_2026-03-01_2026-03-01.csv"
    assert len(rows) == ROWS + 1
    assert rows[0][:3] == ["id", "queued at", "status"]
    assert rows[1][2:6] == ["sent", "noreply@example.com", "user0@example.com", "Message 0"]
    assert Report.objects.get().status == "done"


def watch_and_download(browser, site, screenshots):
    page = browser.new_page(viewport={"width": 1000, "height": 700}, accept_downloads=True)
    page.goto(f"{site}/accounts/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "a-Long-pass-42")
    page.click("button[type=submit]")
    page.click("text=Reports")
    page.fill("#id_email-log-start", "2026-03-01")
    page.fill("#id_email-log-end", "2026-03-01")
    page.select_option("#format-email-log", "csv")
    page.click("#type-email-log button[type=submit]")

    page.wait_for_url(f"{site}/reports/*/")
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            value = int(page.eval_on_selector("#bar", "bar => bar.value"))
            if 30 <= value <= 70 and not any(30 <= v <= 70 for v in seen):
                page.screenshot(path=str(screenshots / "report-page-running.png"), full_page=True)
            seen.add(value)
            if page.query_selector("#download"):
                break
        except Exception:  # noqa: BLE001 - the page reloads itself when the report is done
            pass
        time.sleep(0.05)
    page.wait_for_selector("#download", timeout=60_000)
    assert page.eval_on_selector("#bar", "bar => bar.value") == 100
    line = page.inner_text("#line")
    page.screenshot(path=str(screenshots / "report-page.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    with open(download.path(), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return seen, rows, download.suggested_filename, line
