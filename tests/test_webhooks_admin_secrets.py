"""Webhook secrets and full URLs need the change permission (issue 20, finding 7)."""

import pytest
from django.contrib.auth.models import User

from tests.reports_data import grant
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db
CHAT_URL = "https://hooks.example.com/services/T000/B000/XXXXsecretpathXXXX"


@pytest.fixture
def endpoint(settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]  # no DNS needed: created, not validated
    return Endpoint.objects.create(name="Team chat", url=CHAT_URL, events=["user.signed_up"], format="chat")


def staff(client, *perms):
    user = grant(User.objects.create_user("staff", "staff@example.com", "pw", is_staff=True), *perms)
    client.force_login(user)
    return user


def test_view_only_staff_see_the_host_but_neither_the_secret_nor_the_path(client, endpoint):
    staff(client, "webhooks.view_endpoint")

    page = client.get(f"/admin/webhooks/endpoint/{endpoint.pk}/change/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "hooks.example.com" in body and "Team chat" in body
    assert endpoint.secret not in body
    assert "secretpath" not in body and "/services/" not in body


def test_view_only_staff_cannot_find_the_path_by_searching(client, endpoint):
    staff(client, "webhooks.view_endpoint")

    hit = client.get("/admin/webhooks/endpoint/", {"q": "secretpath"}).content.decode()

    assert f"/admin/webhooks/endpoint/{endpoint.pk}/change/" not in hit


def test_staff_who_may_change_it_see_both(client, endpoint):
    staff(client, "webhooks.view_endpoint", "webhooks.change_endpoint")

    body = client.get(f"/admin/webhooks/endpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret in body and CHAT_URL in body
    hit = client.get("/admin/webhooks/endpoint/", {"q": "secretpath"}).content.decode()
    assert f"/admin/webhooks/endpoint/{endpoint.pk}/change/" in hit
