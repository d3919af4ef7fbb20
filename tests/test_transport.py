"""A company relay signed by a private CA: EMAIL_SSL_CA_FILE makes STARTTLS trust it, nothing else does."""

import ssl
import subprocess

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import send_mail

from notifications import delivery
from notifications.models import Message
from notifications.transport import Transport
from testing.smtp import RecordingHandler, _free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]  # openssl makes the CA


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def private_ca(tmp_path):
    """A self-signed CA and a relay certificate for 127.0.0.1 it signed (made with the openssl CLI)."""
    # A CA as real ones are made: Python 3.13 verifies strictly (VERIFY_X509_STRICT) and wants these extensions.
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Example Corp CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=tmp_path)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=relay.corp.example",
            "-keyout", "relay.key", "-out", "relay.csr", cwd=tmp_path)  # fmt: skip
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\nauthorityKeyIdentifier=keyid\n")
    openssl("x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "relay.pem", cwd=tmp_path)  # fmt: skip
    return tmp_path


@pytest.fixture
def corporate_relay(private_ca):
    """An aiosmtpd relay that insists on STARTTLS with the private CA's certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(private_ca / "relay.pem", private_ca / "relay.key")
    handler = RecordingHandler()
    port = _free_port("127.0.0.1")
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True)
    controller.start()
    yield handler, port
    controller.stop()


def deliver_through(port):
    return delivery.deliver(
        transport_factory=lambda: Transport(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port, use_tls=True
        )
    )


def test_it_refuses_a_relay_signed_by_an_unknown_ca(corporate_relay, settings):
    handler, port = corporate_relay
    settings.EMAIL_SSL_CA_FILE = ""
    send_mail("Hello", "Body", "from@example.com", ["to@example.com"])

    deliver_through(port)

    row = Message.objects.get()
    assert handler.messages == []
    assert row.status == "queued" and "CERTIFICATE_VERIFY_FAILED" in row.last_error


def test_it_trusts_the_ca_named_by_email_ssl_ca_file(corporate_relay, private_ca, settings):
    handler, port = corporate_relay
    settings.EMAIL_SSL_CA_FILE = str(private_ca / "ca.pem")
    send_mail("Hello", "Body", "from@example.com", ["to@example.com"])

    outcome = deliver_through(port)

    assert outcome.sent == 1
    assert [m.subject for m in handler.messages] == ["Hello"]
    assert Message.objects.get().status == "sent"
