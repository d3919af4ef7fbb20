"""docs/operations.md's security model, row by row: what each role may see, asked of the site itself."""

import re

import pytest
from django.contrib.auth.models import User

from durable.models import Task
from notifications.models import Message
from reports import registry, requests
from testing.consumer import BASE_DIR
from tests import durable_tasks
from tests.reports_data import grant
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db
DAY = {"start": "2026-03-01", "end": "2026-03-01"}
ROLES = {
    "anyone": None,
    "a signed-in user": (),
    "staff (no permission)": ("staff",),
    "staff with `operations.view_operations`": ("staff", "operations.view_operations"),
    "staff with `operations.view_operations` and `durable.change_task`": (
        "staff",
        "operations.view_operations",
        "durable.change_task",
    ),
    "staff with `notifications.view_message`": ("staff", "notifications.view_message"),
    "staff with `reports.view_report`": ("staff", "reports.view_report"),
    "staff with `webhooks.view_endpoint`": ("staff", "webhooks.view_endpoint"),
    "a superuser": ("superuser",),
}


def test_the_documented_roles_are_the_ones_checked_here():
    doc = (BASE_DIR / "docs" / "operations.md").read_text()
    table = doc.split("## Security model", 1)[1].split("\n\n", 2)[1]
    roles = [m.group(1).strip() for m in re.finditer(r"^\| (.+?) \| ", table, re.M)][1:]  # past the header
    assert roles == list(ROLES)


@pytest.fixture
def site(client, settings):
    """A sensitive e-mail, a site-wide e-mail log and a sign-ups report of a superuser's, a chat endpoint."""
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["0.0.0.0/0"]
    boss = User.objects.create_superuser("boss", "boss@example.com", "pw")
    User.objects.create_user("ann", "ann@example.com", "a-Long-pass-42")
    client.post("/accounts/password_reset/", {"email": "ann@example.com"})
    reset = Message.objects.get(recipients=["ann@example.com"])
    log, _ = requests.request_report(boss, registry.get("email-log"), DAY, "csv")
    signups, _ = requests.request_report(boss, registry.get("signups-per-day"), DAY, "csv")
    hook = Endpoint.objects.create(name="chat", url="https://hooks.example.com/T0/s3cr3t", events=["user.signed_up"])
    return {"reset": reset, "log": log, "signups": signups, "hook": hook, "boss": boss}


def as_role(client, role, site):
    spec = ROLES[role]
    if spec is None:
        client.logout()
        return
    if spec == ("superuser",):
        client.force_login(site["boss"])
        return
    n = list(ROLES).index(role)
    user = User.objects.create_user(f"u{n}", f"u{n}@example.com", "pw", is_staff="staff" in spec)
    client.force_login(grant(user, *spec[1:]))


def test_what_each_role_may_reach(client, site):
    reset, log, signups, hook = site["reset"], site["log"], site["signups"], site["hook"]
    paths = {
        "ops": "/operations/",
        "metrics": "/metrics",
        "outbox": "/admin/notifications/message/",
        "mail": f"/admin/notifications/message/{reset.pk}/change/",
        "log": f"/reports/{log.pk}/",
        "signups": f"/reports/{signups.pk}/",
        "hook": f"/admin/webhooks/endpoint/{hook.pk}/change/",
        "admin": "/admin/",
    }
    expected = {
        "anyone": {"ops": 302, "metrics": 401, "outbox": 302, "mail": 302, "log": 302, "hook": 302, "admin": 302},
        "a signed-in user": {"ops": 403, "metrics": 401, "outbox": 302, "log": 404, "signups": 404, "admin": 302},
        "staff (no permission)": {"ops": 403, "metrics": 401, "outbox": 403, "log": 404, "hook": 403, "admin": 200},
        "staff with `operations.view_operations`": {"ops": 200, "metrics": 200, "outbox": 403, "hook": 403},
        "staff with `operations.view_operations` and `durable.change_task`": {"ops": 200, "outbox": 403},
        "staff with `notifications.view_message`": {"ops": 403, "outbox": 200, "mail": 200, "log": 404},
        "staff with `reports.view_report`": {"log": 404, "signups": 200, "outbox": 403, "ops": 403},
        "staff with `webhooks.view_endpoint`": {"hook": 200, "ops": 403, "outbox": 403},
        "a superuser": {name: 200 for name in paths},
    }
    got = {}
    for role, wants in expected.items():
        as_role(client, role, site)
        got[role] = {name: client.get(paths[name]).status_code for name in wants}
        probes = client.get("/health/").json()
        got[role]["probes"] = "checks" in probes
        wants["probes"] = role == "a superuser" or "operations.view_operations" in (ROLES[role] or ())
    assert got == expected


@pytest.mark.parametrize("role", ["staff with `notifications.view_message`", "a superuser"])
def test_a_sensitive_body_needs_a_superusers_logged_reveal(client, site, role, caplog):
    as_role(client, role, site)
    path = f"/admin/notifications/message/{site['reset'].pk}/change/"

    assert "/accounts/reset/" not in client.get(path).content.decode()
    revealed = "/accounts/reset/" in client.get(f"{path}?reveal=1").content.decode()

    assert revealed is (role == "a superuser")
    assert ("sensitive body revealed to superuser" in caplog.text) is revealed


def test_a_webhook_secret_needs_the_change_permission(client, site):
    as_role(client, "staff with `webhooks.view_endpoint`", site)
    page = client.get(f"/admin/webhooks/endpoint/{site['hook'].pk}/change/").content.decode()
    assert site["hook"].secret not in page and "s3cr3t" not in page

    as_role(client, "a superuser", site)
    page = client.get(f"/admin/webhooks/endpoint/{site['hook'].pk}/change/").content.decode()
    assert site["hook"].secret in page and "s3cr3t" in page


def test_the_task_list_needs_view_operations_and_cancel_or_retry_durable_change_task(client, site):
    pk = int(durable_tasks.noop.enqueue().id)
    got = {}
    for role in ROLES:
        as_role(client, role, site)
        page = client.get("/operations/tasks/")
        cancel = client.post(f"/operations/tasks/{pk}/cancel/").status_code
        got[role] = (page.status_code, 'class="ops-cancel"' in page.content.decode(), cancel)
        Task.objects.filter(pk=pk).update(status="queued", finished_at=None)
    # (the list's status, whether its cancel button shows, a cancel POST's status); anyone goes to the log-in
    assert got == {
        "anyone": (302, False, 302),
        "a signed-in user": (403, False, 403),
        "staff (no permission)": (403, False, 403),
        "staff with `operations.view_operations`": (200, False, 403),
        "staff with `operations.view_operations` and `durable.change_task`": (200, True, 302),
        "staff with `notifications.view_message`": (403, False, 403),
        "staff with `reports.view_report`": (403, False, 403),
        "staff with `webhooks.view_endpoint`": (403, False, 403),
        "a superuser": (200, True, 302),
    }
