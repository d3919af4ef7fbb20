"""Where the consumer may POST: public addresses, WEBHOOKS_ALLOWED_NETWORKS, checked at save and at every send."""

import pytest
from django.core import checks
from django.core.exceptions import ValidationError

from durable import claim
from operations.signals import site_event
from testing.receiver import Receiver, Reply
from webhooks.models import Delivery, Endpoint
from webhooks.safety import UnsafeAddress, check_address, validate_url


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "::1",
        "10.0.0.7",  # private
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # link-local: the cloud metadata service
        "fe80::1",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "::ffff:127.0.0.1",  # loopback behind an IPv4-mapped IPv6 address
        "fd00::1",  # unique local
    ],
)
def test_special_addresses_are_refused_by_default(settings, address):
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeAddress, match="not a public address"):
        check_address(address)


def test_public_addresses_pass_and_allowed_networks_open_private_ones(settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.5.0/24", "192.168.1.7"]
    check_address("93.184.215.14")
    check_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    check_address("10.0.5.200")
    check_address("192.168.1.7")
    with pytest.raises(UnsafeAddress):
        check_address("10.0.6.1")
    with pytest.raises(UnsafeAddress):
        check_address("192.168.1.8")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "Only http:// and https://"),
        ("gopher://example.com/", "Only http:// and https://"),
        ("http:///nohost", "no host"),
        ("http://localhost:8000/hook", "localhost resolves to 127.0.0.1 is not a public address, nor in"),
        ("http://169.254.169.254/latest/meta-data/", "not a public address"),
        ("http://no-such-host.invalid/hook", "no-such-host.invalid does not resolve"),
    ],
)
def test_urls_are_checked_when_saved(settings, url, message):
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    with pytest.raises(ValidationError, match=message):
        validate_url(url)


@pytest.mark.django_db
def test_the_address_is_checked_again_at_send_time_and_a_refusal_pauses_the_endpoint(receiver, settings):
    ep = Endpoint.objects.create(name="r", url=receiver.url(), events=["user.signed_up"])  # allowed when saved
    settings.WEBHOOKS_ALLOWED_NETWORKS = []  # then the setting changed (or the name now resolves elsewhere)
    site_event.send(sender="tests", type="user.signed_up", data={})

    claim.run_due()

    assert receiver.received == []
    ep.refresh_from_db()
    assert ep.paused_at is not None
    assert ep.paused_reason == (
        "refused: 127.0.0.1 is not a public address, nor in WEBHOOKS_ALLOWED_NETWORKS."
        " Fix the URL or WEBHOOKS_ALLOWED_NETWORKS, then resume it."
    )
    assert Delivery.objects.get().status == "pending"  # it waits for staff, nothing lost


@pytest.mark.django_db
def test_a_redirect_is_not_followed(receiver):
    elsewhere = Receiver().start()
    try:
        Endpoint.objects.create(name="r", url=receiver.url(), events=["user.signed_up"])
        receiver.answer(Reply(307, headers={"Location": elsewhere.url("/internal")}))
        site_event.send(sender="tests", type="user.signed_up", data={})

        claim.run_due()

        assert elsewhere.received == [] and len(receiver.received) == 1
        d = Delivery.objects.get()
        assert d.status == "failed" and d.last_error.startswith("307: redirect to http://127.0.0.1:")
        assert d.last_error.endswith("not followed; fix the endpoint's URL")
    finally:
        elsewhere.stop()


@pytest.mark.django_db
def test_a_proxy_in_the_environment_is_not_used(receiver, monkeypatch):
    proxy = Receiver().start()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
        monkeypatch.setenv("ALL_PROXY", proxy.url(""))
        Endpoint.objects.create(name="r", url=receiver.url(), events=["user.signed_up"])
        site_event.send(sender="tests", type="user.signed_up", data={})

        claim.run_due()

        assert proxy.received == [] and len(receiver.received) == 1
    finally:
        proxy.stop()


@pytest.mark.django_db  # Django 6.1's model checks ask the database what it supports
def test_a_network_that_is_not_one_is_a_system_check_error(settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8", "intranet"]

    errors = [e for e in checks.run_checks() if e.id.startswith("webhooks.")]

    assert [(e.id, e.msg) for e in errors] == [
        ("webhooks.E001", "WEBHOOKS_ALLOWED_NETWORKS: 'intranet' is not a network")
    ]


# Issue 20, finding 3: every IPv6 form that carries an IPv4 address is judged by that IPv4 address, and IPv6
# outside global unicast (or deprecated, or documentation) is refused, whatever Python's ``is_global`` says.
CARRIERS_OF_INTERNAL_IPV4 = [
    "64:ff9b::a9fe:a9fe",  # NAT64 to 169.254.169.254, the cloud metadata service
    "64:ff9b::a00:1",  # NAT64 to 10.0.0.1
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::a9fe:a9fe",
    "::ffff:0:127.0.0.1",  # IPv4-translated (SIIT)
    "::ffff:10.1.2.3",  # IPv4-mapped
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 around 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo (its client is 192.0.2.45)
]
NOT_GLOBAL_IPV6 = [
    "fec0::1",  # site-local (deprecated), which Python counts as global
    "64:ff9b:1::a00:1",  # local-use NAT64
    "3fff::1",  # documentation (RFC 9637)
    "5f00::1",  # outside global unicast
    "2001:db8::1",
    "100::1",  # discard-only
    "ff02::1",
]


@pytest.mark.parametrize("address", CARRIERS_OF_INTERNAL_IPV4 + NOT_GLOBAL_IPV6)
def test_ipv6_forms_of_internal_addresses_are_refused(settings, address):
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeAddress, match="not a public address"):
        check_address(address)
    with pytest.raises(ValidationError, match="not a public address"):
        validate_url(f"http://[{address}]:8080/hook")


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "::ffff:0:8.8.8.8", "2002:808:808::1", "2001:4860::8888"])
def test_ipv6_forms_of_public_addresses_pass(settings, address):
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    check_address(address)


def test_a_carried_ipv4_address_is_allowed_when_its_network_is(settings):
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.5.0/24"]
    check_address("64:ff9b::a00:507")  # 10.0.5.7
    with pytest.raises(UnsafeAddress, match="carries the IPv4 address 10.0.6.7"):
        check_address("64:ff9b::a00:607")


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["64:ff9b::a9fe:a9fe", "::ffff:0:127.0.0.1", "2002:7f00:1::1", "fec0::1"])
def test_an_ipv6_carrier_saved_before_the_guard_knew_it_is_refused_at_connection_time(settings, address):
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    ep = Endpoint.objects.create(name="r", url=f"http://[{address}]:9/hook", events=["user.signed_up"])
    site_event.send(sender="tests", type="user.signed_up", data={})

    claim.run_due()

    ep.refresh_from_db()
    assert ep.paused_at is not None
    assert ep.paused_reason.startswith("refused: ") and "is not a public address" in ep.paused_reason
