"""The development mail page: outbox and every e-mail template rendered, staff only, gone when DEBUG is off."""

import importlib

import pytest
from django.contrib.auth.models import User
from django.core.mail import EmailMultiAlternatives
from django.urls import Resolver404, clear_url_caches, resolve

import mysite.urls
from notifications.models import Message
from tests.reports_data import grant
from tests.test_browser_reports import chromium  # noqa: F401 - the shared browser fixture

pytestmark = pytest.mark.django_db
TEMPLATES = ["Password reset", "Report ready", "Test e-mail", "Welcome"]
PDF = b"%PDF-1.4 example invoice\n"


@pytest.fixture
def debug_on(settings):
    """DEBUG on, and mysite.urls read again under it (as a process started with DEBUG=true reads it)."""
    settings.DEBUG = True
    importlib.reload(mysite.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(mysite.urls)
    clear_url_caches()


@pytest.fixture
def staff(client):
    """Staff who may read the outbox (as in the admin: notifications.view_message)."""
    user = User.objects.create_user("ops", "ops@example.com", "a-Long-pass-42", is_staff=True)
    client.force_login(grant(user, "notifications.view_message"))
    return client


def queue_invoice():
    message = EmailMultiAlternatives("Your invoice", "Plain words.", "shop@example.com", ["ann@example.com"])
    message.attach_alternative("<h1>Invoice</h1><p>HTML words.</p><script>alert(1)</script>", "text/html")
    message.attach("invoice.pdf", PDF, "application/pdf")
    message.send()
    return Message.objects.get(subject="Your invoice")


def test_it_lists_the_outbox_and_every_email_template(debug_on, staff):
    row = queue_invoice()

    page = staff.get("/dev/mail/").content.decode()

    assert f'href="/dev/mail/outbox/{row.pk}/"' in page and "Your invoice" in page
    for title in TEMPLATES:
        assert f">{title}</a>" in page


def test_an_outbox_email_is_shown_as_sent_with_its_attachment(debug_on, staff):
    row = queue_invoice()

    page = staff.get(f"/dev/mail/outbox/{row.pk}/").content.decode()
    download = staff.get(f"/dev/mail/outbox/{row.pk}/attachments/1/")

    assert "<th>Subject</th><td>Your invoice</td>" in page
    assert 'sandbox srcdoc="&lt;h1&gt;Invoice&lt;/h1&gt;' in page  # the HTML part, scripts inert in a sandbox
    assert "Plain words." in page
    assert "invoice.pdf</a> (application/pdf, 25" in page
    assert download.content == PDF and download["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    assert staff.get(f"/dev/mail/outbox/{row.pk}/attachments/2/").status_code == 404


@pytest.mark.parametrize("slug, subject", [
    ("welcome", "Welcome to mysite, ann"),
    ("password-reset", "Password reset on mysite"),
    ("report-ready", "Your report is ready: "),
    ("test-e-mail", "mysite test e-mail"),
])  # fmt: skip
def test_each_template_previews_with_example_data_and_sends_nothing(debug_on, staff, slug, subject):
    page = staff.get(f"/dev/mail/previews/{slug}/").content.decode()

    assert f"<th>Subject</th><td>{subject}" in page
    assert "example data, not sent" in page
    assert not Message.objects.exists()


def test_only_staff_get_in(debug_on, client):
    assert client.get("/dev/mail/").status_code == 302  # to the admin log-in
    client.force_login(User.objects.create_user("ann"))
    assert client.get("/dev/mail/").status_code == 302
    assert client.get("/dev/mail/previews/welcome/").status_code == 302


def test_with_debug_off_the_url_does_not_exist(staff, settings):
    assert settings.DEBUG is False
    with pytest.raises(Resolver404):
        resolve("/dev/mail/")
    assert staff.get("/dev/mail/").status_code == 404
    assert staff.get("/dev/mail/previews/welcome/").status_code == 404


@pytest.fixture
def debug_site(start_site):
    """The site under gunicorn with DEBUG=true (as `make run` would start it) on the test database."""
    return start_site(args=("--threads", "2"), DEBUG="true").url


@pytest.mark.consumer
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_developer_sees_the_welcome_email_in_the_browser(chromium, debug_site, screenshots):  # noqa: F811
    User.objects.create_user("ops", "ops@example.com", "a-Long-pass-42", is_staff=True)
    queue_invoice()
    shot = screenshots / "mail-preview.png"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(f"{debug_site}/admin/login/?next=/dev/mail/")
        page.fill("#id_username", "ops")
        page.fill("#id_password", "a-Long-pass-42")
        page.click("input[type=submit]")
        page.wait_for_url(f"{debug_site}/dev/mail/")
        listed = page.locator("ul.previews li").all_inner_texts()
        page.click("text=Welcome")
        page.wait_for_url("**/previews/welcome/")
        frame = page.frame_locator("iframe.mail-html")
        html_text = frame.locator("body").inner_text()
        plain_text = page.locator(".mail-text").inner_text()
        page.screenshot(path=str(shot), full_page=True)

    assert listed == TEMPLATES
    assert "ann" in html_text and "mysite.example.com" in html_text
    assert plain_text.startswith("Hello ann,")
    assert shot.stat().st_size > 5000


# --- issue 20, finding 8: the outbox admin's rules hold here too -------------------------------------------------
def queue_reset(client):
    User.objects.create_user("ann", "ann@example.com", "a-Long-pass-42")
    client.post("/accounts/password_reset/", {"email": "ann@example.com"})
    return Message.objects.get(recipients=["ann@example.com"])


def test_a_sensitive_body_is_redacted_for_staff(debug_on, staff):
    row = queue_reset(staff)
    assert row.sensitive

    page = staff.get(f"/dev/mail/outbox/{row.pk}/").content.decode()

    assert "/accounts/reset/" not in page and "Redacted" in page
    assert "Reveal the body" not in page
    assert staff.get(f"/dev/mail/outbox/{row.pk}/?reveal=1").content.decode().count("/accounts/reset/") == 0


def test_a_superuser_reveals_a_sensitive_body_and_it_is_logged(debug_on, client, caplog):
    row = queue_reset(client)
    boss = User.objects.create_superuser("boss", "boss@example.com", "a-Long-pass-42")
    client.force_login(boss)

    assert "/accounts/reset/" not in client.get(f"/dev/mail/outbox/{row.pk}/").content.decode()
    with caplog.at_level("WARNING"):
        page = client.get(f"/dev/mail/outbox/{row.pk}/?reveal=1").content.decode()

    assert "/accounts/reset/" in page
    assert f"outbox {row.pk}: sensitive body revealed to superuser {boss.pk}" in caplog.text


def test_staff_without_the_outbox_permission_see_previews_but_not_the_outbox(debug_on, client):
    row = queue_invoice()
    client.force_login(User.objects.create_user("dev", "dev@example.com", "a-Long-pass-42", is_staff=True))

    listing = client.get("/dev/mail/").content.decode()

    assert "Your invoice" not in listing and ">Welcome</a>" in listing
    assert client.get(f"/dev/mail/outbox/{row.pk}/").status_code == 403
    assert client.get(f"/dev/mail/outbox/{row.pk}/attachments/1/").status_code == 403
    assert client.get("/dev/mail/previews/welcome/").status_code == 200
