"""Content-Security-Policy (issue 20): every page works under it in headless Chromium, and injected scripts do not run.

The site runs under gunicorn with DEBUG on (as `make run` starts it), so /dev/mail/ is there too; a superuser
opens each page while the browser reports every CSP violation (console and ``securitypolicyviolation``).
"""

import pytest
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives

from notifications.models import Message
from reports import registry, requests
from tests.test_browser_reports import chromium  # noqa: F401 - the shared browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.consumer, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-Long-pass-42"
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture
def pages(start_site):
    """The site, a superuser, and the paths of every kind of page: made before the browser (no ORM inside it)."""
    boss = User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    mail = EmailMultiAlternatives("Your invoice", "Plain words.", "shop@example.com", ["ann@example.com"])
    mail.attach_alternative("<h1 style='color:#333'>Invoice</h1><p>HTML words.</p>", "text/html")
    mail.send()
    row = Message.objects.get()
    report, _ = requests.request_report(
        boss, registry.get("signups-per-day"), {"start": "2026-03-01", "end": "2026-03-01"}, "csv"
    )
    site = start_site(args=("--threads", "2"), DEBUG="true").url
    return site, [
        "/admin/",
        "/admin/notifications/message/",
        f"/admin/notifications/message/{row.pk}/change/",
        "/admin/webhooks/endpoint/add/",
        f"/admin/auth/user/{boss.pk}/change/",
        "/operations/",
        "/operations/tasks/",
        "/admin/durable/task/",
        "/dev/mail/",
        "/dev/mail/previews/welcome/",
        "/dev/mail/previews/password-reset/",
        f"/dev/mail/outbox/{row.pk}/",
        "/reports/",
        f"/reports/{report.pk}/",
        "/images/",
        "/",
    ]


def test_every_page_passes_the_policy_and_an_injected_script_does_not_run(chromium, pages):  # noqa: F811
    site, paths = pages
    seen, headers = {}, {}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        console = []
        page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
        page.add_init_script(WATCH)
        for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password_reset/"):
            headers[path] = page.goto(f"{site}{path}").headers.get("content-security-policy", "")
            seen[path] = page.evaluate("window.__csp")
        page.goto(f"{site}/admin/login/?next=/admin/")
        page.fill("#id_username", "boss")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{site}/admin/")
        for path in paths:
            # A page is done once loaded, and a page that polls once its first poll is answered, so that its script's
            # request ran under the policy too. Not "networkidle" (0.5 s without a request): the report's page asks
            # for its status every 0.5 s while the report waits (no consumer here), so that came only by chance.
            if path == paths[-3]:  # the report's page
                with page.expect_response(lambda r: r.url.endswith("/status/")):
                    response = page.goto(f"{site}{path}")
            else:
                response = page.goto(f"{site}{path}")
            assert response.status == 200, path
            page.wait_for_load_state("load")
            headers[path] = response.headers.get("content-security-policy", "")
            seen[path] = page.evaluate("window.__csp")
        violations = list(console)
        page.goto(f"{site}/")
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.pwned = 1'; document.body.appendChild(s); }"
        )
        pwned = page.evaluate("window.pwned === 1")

    assert {path: v for path, v in seen.items() if v} == {}
    assert violations == []
    assert all("script-src 'self'" in h and "object-src 'none'" in h for h in headers.values()), headers
    assert "'nonce-" in headers["/images/"] and "'nonce-" in headers[paths[-3]]  # pages with their own script
    assert not pwned and len(console) == 1  # an injected inline script is refused, and the browser says so
