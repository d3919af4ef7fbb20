"""Rate limits and log-in lock-out (issue 12, finding 3): floods from one client or at one target are cut short.

Bounded floods through the Django test client on a real database cache. The limits are the
defaults from settings.py, counted per day here so a flood never straddles two windows.
"""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from notifications.models import Message
from throttle.client import client_ip

pytestmark = pytest.mark.django_db
PASSWORD = "a-Long-pass-42"


@pytest.fixture(autouse=True)
def per_day(settings):
    """The default counts, per day: a bounded flood counts in one window."""
    settings.RATE_LIMITS = {
        group: {rule: rate.split("/")[0] + "/d" for rule, rate in rules.items()}
        for group, rules in settings.RATE_LIMITS.items()
    }
    return settings.RATE_LIMITS


def from_address(address, via_proxy=False):
    """A test client whose requests come from ``address`` (directly, or through a proxy on the loopback)."""
    if via_proxy:
        return Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.9.9.9, {address}")
    return Client(REMOTE_ADDR=address)


def assert_too_many(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many requests" in response.content and b"try again" in response.content


def test_it_sends_at_most_three_resets_for_one_address_however_often_it_is_asked(client):
    User.objects.create_user("ada", "ada@example.com", PASSWORD)

    answers = [client.post("/accounts/password_reset/", {"email": "ADA@example.com "}).status_code for _ in range(300)]

    assert Message.objects.count() == 3
    assert answers[:3] == [302] * 3 and set(answers[3:]) == {429}
    assert_too_many(client.post("/accounts/password_reset/", {"email": "ada@example.com"}))


def test_one_address_is_limited_whichever_clients_ask(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    User.objects.create_user("ada", "ada@example.com", PASSWORD)

    for n in range(20):
        from_address(f"203.0.113.{n}", via_proxy=True).post("/accounts/password_reset/", {"email": "ada@example.com"})

    assert Message.objects.count() == 3


def test_one_client_is_limited_whichever_addresses_it_asks_for(client):
    User.objects.bulk_create(User(username=f"u{n}", email=f"u{n}@example.com") for n in range(50))

    for n in range(50):
        client.post("/accounts/password_reset/", {"email": f"u{n}@example.com"})

    assert Message.objects.count() == 10


def test_sign_ups_from_one_client_are_limited_and_the_eleventh_is_told_to_wait(client):
    answers = []
    for n in range(50):
        form = {"username": f"u{n}", "email": f"u{n}@example.org", "password1": PASSWORD, "password2": PASSWORD}
        answers.append(client.post("/accounts/signup/", form))

    assert User.objects.count() == 10 and Message.objects.count() == 10
    assert_too_many(answers[10])


def test_forty_wrong_passwords_lock_that_client_out_of_that_account_but_not_the_real_user(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    User.objects.create_user("ada", "ada@example.com", PASSWORD)
    attacker = from_address("198.51.100.7", via_proxy=True)

    for _ in range(40):
        attacker.post("/accounts/login/", {"username": "ada", "password": "guess"})
    right = attacker.post("/accounts/login/", {"username": "ada", "password": PASSWORD})

    assert_too_many(right)
    assert int(right["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
    assert "_auth_user_id" not in attacker.session
    ada = from_address("192.0.2.44", via_proxy=True)
    assert ada.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    assert ada.session["_auth_user_id"] == str(User.objects.get().pk)


def test_the_admin_log_in_is_locked_the_same_way(client):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)

    for _ in range(40):
        client.post("/admin/login/", {"username": "root", "password": "guess"})
    right = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})

    assert_too_many(right)
    assert "_auth_user_id" not in client.session
    assert (
        from_address("192.0.2.44").post("/admin/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    )


def test_guesses_spread_over_many_accounts_are_limited_per_client(client, settings):
    for n in range(70):
        client.post("/accounts/login/", {"username": f"user{n}", "password": "guess"})

    assert_too_many(client.post("/accounts/login/", {"username": "someone-else", "password": "guess"}))


def test_a_client_cannot_escape_the_limit_by_sending_its_own_forwarded_for(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the proxy is on the loopback; this client is not
    answers = [
        Client(REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        .post("/accounts/password_reset/", {"email": f"x{n}@example.com"})
        .status_code
        for n in range(15)
    ]

    assert answers.count(302) == 10 and answers[10:] == [429] * 5


def test_the_client_address_comes_from_the_trusted_proxy_and_only_from_it(rf, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]

    def ip(remote, forwarded=None):
        meta = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})
        return client_ip(rf.get("/", **meta))

    assert ip("127.0.0.1", "6.6.6.6, 203.0.113.5") == "203.0.113.5"  # the proxy's entry is the last
    assert ip("10.1.2.3", "203.0.113.5") == "203.0.113.5"
    assert ip("198.51.100.9", "203.0.113.5") == "198.51.100.9"  # not a proxy: its header is ignored
    assert ip("127.0.0.1", "not-an-address") == "127.0.0.1"
    assert ip("127.0.0.1") == "127.0.0.1"  # loopback with no header is a client like any other
    settings.TRUSTED_PROXIES = []
    assert ip("127.0.0.1", "203.0.113.5") == "127.0.0.1"


def test_report_requests_are_limited_per_account(client, settings):
    settings.RATE_LIMITS["reports"] = {"client": "", "account": "5/d"}
    client.force_login(User.objects.create_user("ada", "ada@example.com", PASSWORD))

    answers = [
        client.post(
            "/reports/",
            {"type": "signups-per-day", "format": "csv", "signups-per-day-start": f"2026-01-{n + 1:02d}",
             "signups-per-day-end": "2026-02-01"},
        ).status_code
        for n in range(8)
    ]  # fmt: skip

    assert answers == [302] * 5 + [429] * 3


def test_a_bad_proxy_or_rate_or_an_unshared_cache_is_a_system_check_message(settings):
    from throttle import checks

    settings.TRUSTED_PROXIES = ["127.0.0.1", "nginx.local"]
    settings.RATE_LIMITS = {"signup": {"client": "ten per hour", "address": ""}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    assert [e.id for e in checks.check_trusted_proxies()] == ["throttle.E001"]
    assert [e.id for e in checks.check_rates()] == ["throttle.E002"]
    assert [e.id for e in checks.check_cache()] == ["throttle.W001"]


@pytest.mark.parametrize("value", ["", " ", "a" * 5000, "x\r\nBcc: evil@example.com", "\x00", "ünï@exämple.com"])
@pytest.mark.parametrize(
    "path, field",
    [("/accounts/login/", "username"), ("/admin/login/", "username"), ("/accounts/password_reset/", "email"),
     ("/accounts/signup/", "email")],
)  # fmt: skip
def test_odd_input_to_a_counted_form_gets_an_answer_not_a_500(client, path, field, value):
    for _ in range(12):  # under the limits, then over them
        response = client.post(path, {field: value, "password": "x"}, HTTP_USER_AGENT=value * 2)
        assert response.status_code < 500
