"""The operations page in a real browser (headless Chromium): reached from the admin index, readable, with its chart."""

import shutil

import pytest
from django.contrib.auth.models import User
from django.core.mail import send_mail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def boss_and_a_queued_email():
    # Before the browser starts: Playwright's sync API runs an event loop, where Django refuses ORM calls.
    User.objects.create_superuser("boss", "boss@example.com", "a-Long-pass-42")
    send_mail("Waiting", "Body", "from@example.com", ["to@example.com"])


@pytest.fixture
def page(boss_and_a_queued_email):
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser.new_page(viewport={"width": 1280, "height": 1000})
        browser.close()


def test_staff_reach_the_operations_page_from_the_admin_and_read_it(live_server, page, tmp_path):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "a-Long-pass-42")
    page.click("input[type=submit]")
    page.click("#operations-module a.section")

    assert page.url == f"{live_server.url}/operations/"
    assert page.locator("#tile-consumer b").inner_text() == "none running"
    assert page.locator("#outbox-queued").inner_text() == "1"
    assert page.locator("#ops-chart svg rect").count() == 48  # 24 hours x (tasks, e-mails)
    assert page.locator("#durable-periodic tbody tr").count() >= 2  # the daily cleanup, the webhook kick
    assert page.locator("#id_to").input_value() == "boss@example.com"
    page.screenshot(path=str(tmp_path / "operations.png"), full_page=True)
