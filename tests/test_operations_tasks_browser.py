"""The operations page's bulk cancel in headless Chromium: filter, confirm with the count, see what was done."""

import shutil

import pytest
from django.contrib.auth.models import User

from durable.models import Task
from tests import durable_tasks
from tests.test_operations_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-Long-pass-42"
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture
def tasks():
    # Before the browser starts: Playwright's sync API runs an event loop, where Django refuses ORM calls.
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    queued = [int(durable_tasks.add.enqueue(i, 1).id) for i in range(3)]
    done = int(durable_tasks.add.enqueue(9, 9).id)
    Task.objects.filter(pk=done).update(status="successful")
    other = int(durable_tasks.noop.enqueue().id)
    return {"queued": queued, "done": done, "other": other}


@pytest.fixture
def page(tasks):
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.add_init_script(WATCH)
        yield page
        browser.close()


def test_an_operator_cancels_all_matching_after_a_confirmation_that_states_the_count(live_server, page, tasks):
    page.goto(f"{live_server.url}/admin/login/?next=/operations/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.click("#ops-tasks-link a")

    page.fill("#id_name", "add")
    page.click("#ops-task-filter input[type=submit]")
    assert page.locator("#ops-task-count").inner_text() == "4 task(s) match: name=add."
    assert page.locator("#ops-tasks tbody tr").count() == 4

    page.click("#ops-bulk-cancel")
    assert page.locator("#ops-confirm-question").inner_text() == "Cancel 4 tasks matching: name=add?"
    page.click("#ops-confirm-yes")

    assert page.url == f"{live_server.url}/operations/tasks/?name=add"
    message = page.locator("ul.messagelist li").inner_text()
    assert message == "Matching name=add: 3 task(s) cancelled; 1 could not be (already finished)."
    assert page.locator("#ops-tasks td.status", has_text="cancelled").count() == 3
    assert page.evaluate("window.__csp") == []
