"""Per-identity limits key on the identity Django resolves, per-client limits on a real client (issue 20, 4 and 9)."""

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client

from notifications.models import Message
from throttle.limits import client as client_key

pytestmark = pytest.mark.django_db
PASSWORD = "a-Long-pass-42"
ALICE_SPELLINGS = ["ａｌｉｃｅ", " alice ", "ALICE", "Ａｌｉｃｅ"]  # full-width, padded, upper case


@pytest.fixture
def alice():
    return User.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.mark.parametrize("spelling", ALICE_SPELLINGS)
def test_the_lock_out_holds_for_every_spelling_django_logs_in_with(alice, spelling):
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(5):
        attacker.post("/accounts/login/", {"username": "alice", "password": "guess"})

    right = attacker.post("/accounts/login/", {"username": spelling, "password": PASSWORD})

    assert right.status_code == 429
    assert "_auth_user_id" not in attacker.session


def test_spellings_of_one_account_share_its_lock_out_however_they_are_mixed():
    bob = User.objects.create_user("bob", "bob@example.com", PASSWORD)
    attacker = Client(REMOTE_ADDR="198.51.100.8")
    for name in ["ｂｏｂ", "BOB", "ｂob", "Bob", "bob"]:
        attacker.post("/accounts/login/", {"username": name, "password": "guess"})

    assert attacker.post("/accounts/login/", {"username": "ｂｏｂ", "password": PASSWORD}).status_code == 429
    ok = Client(REMOTE_ADDR="192.0.2.44")
    assert ok.post("/accounts/login/", {"username": "ｂｏｂ", "password": PASSWORD}).status_code == 302
    assert ok.session["_auth_user_id"] == str(bob.pk)  # Django does log ｂｏｂ in as bob: hence the key


@pytest.mark.parametrize("spelling", ALICE_SPELLINGS)
def test_the_per_account_rate_counts_every_spelling(alice, settings, spelling):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": {"client": "", "account": "3/d"}}
    for n in range(3):
        Client(REMOTE_ADDR=f"203.0.113.{n}").post("/accounts/login/", {"username": "alice", "password": "guess"})

    other = Client(REMOTE_ADDR="203.0.113.99")
    assert other.post("/accounts/login/", {"username": spelling, "password": PASSWORD}).status_code == 429


def test_the_per_address_reset_rate_counts_every_spelling(alice, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": {"client": "", "address": "3/d"}}
    spellings = ["alice@example.com", "ＡＬＩＣＥ@example.com", "ａlice@example.com", "Alice@Example.COM"]
    answers = [
        Client(REMOTE_ADDR=f"203.0.113.{n}").post("/accounts/password_reset/", {"email": spelling}).status_code
        for n, spelling in enumerate(spellings)
    ]

    assert answers[-1] == 429  # the full-width spellings (a form error: not an address Django takes) counted too


# --- finding 9: addresses that used to share a bucket ---------------------------------------------------------
def key_for(rf, address):
    return client_key("signup", rf.get("/", REMOTE_ADDR=address))


def test_ipv4_mapped_clients_are_counted_as_their_ipv4_address(rf):
    assert key_for(rf, "::ffff:198.51.100.7") == "198.51.100.7/32" == key_for(rf, "198.51.100.7")
    assert key_for(rf, "::ffff:203.0.113.9") != key_for(rf, "::ffff:198.51.100.7")
    assert key_for(rf, "2001:db8:1:2::7") == key_for(rf, "2001:db8:1:2::8") == "2001:db8:1:2::/64"


def test_two_ipv4_mapped_clients_do_not_exhaust_each_others_sign_ups(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signup": {"client": "2/d", "address": ""}}
    first = Client(REMOTE_ADDR="::ffff:198.51.100.7")
    for n in range(3):
        first.post("/accounts/signup/", {"username": f"u{n}", "email": f"u{n}@example.com"})

    second = Client(REMOTE_ADDR="::ffff:203.0.113.9")
    assert second.post("/accounts/password_reset/", {"email": "x@example.com"}).status_code == 302
    assert second.post("/accounts/signup/", {"username": "v", "email": "v@example.com"}).status_code != 429


@pytest.mark.parametrize("remote", ["", None])
def test_a_request_with_no_client_address_is_refused_and_logged_not_put_in_a_shared_bucket(remote, caplog):
    meta = {} if remote is None else {"REMOTE_ADDR": remote}
    client = Client(**meta)
    if remote is None:
        client.defaults.pop("REMOTE_ADDR", None)
        client.handler = _without_remote_addr(client.handler)

    with caplog.at_level(logging.ERROR, logger="throttle"):
        response = client.post("/accounts/password_reset/", {"email": "x@example.com"})

    assert response.status_code == 400
    assert b"client address" in response.content
    assert "no client address" in caplog.text and "TRUSTED_PROXIES" in caplog.text
    assert not Message.objects.exists()


def _without_remote_addr(handler):
    class Handler(type(handler)):
        def __call__(self, environ):
            environ.pop("REMOTE_ADDR", None)
            return super().__call__(environ)

    return Handler(enforce_csrf_checks=False)
