"""Hostile receivers (issue 20, findings 5 and 11): a bounded exchange, every failure counted, no mentions."""

import json
import socket
import threading
import time

import pytest

from durable import claim
from operations.signals import site_event
from testing.receiver import Reply
from webhooks import delivery as webhooks_delivery
from webhooks.models import Attempt, Delivery, Endpoint

# Transactional, as a consumer runs: the lease monitor renews on its own connection while a task runs, and an
# open test transaction would hold SQLite's write lock against it (a 20 s stall at the busy timeout).
pytestmark = pytest.mark.django_db(transaction=True)


class Dripper:
    """A receiver on loopback that answers a status line, then one header line every 0.2 s for up to a minute."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.stop = threading.Event()
        self.serving = threading.Thread(target=self._serve, daemon=True)
        self.serving.start()

    def url(self):
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"

    def _serve(self):
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for n in range(300):
                    if self.stop.wait(0.2):
                        return
                    conn.sendall(b"X-Drip-%d: x\r\n" % n)
            except OSError:
                return  # the client hung up: what it should do


@pytest.fixture
def dripper():
    server = Dripper()
    yield server
    server.stop.set()
    server.serving.join(timeout=5)  # out of accept() (it times out every 0.2 s) before its socket is closed
    server.server.close()


def test_a_receiver_dripping_headers_is_cut_off_at_the_deadline_and_counts_as_a_failure(dripper, settings):
    settings.WEBHOOKS_CONNECT_TIMEOUT = 0.5
    settings.WEBHOOKS_READ_TIMEOUT = 1  # each header line comes well within it: only a deadline ends this
    settings.WEBHOOKS_PAUSE_AFTER = 1
    ep = Endpoint.objects.create(name="drip", url=dripper.url(), events=["user.signed_up"])
    site_event.send(sender="tests", type="user.signed_up", data={})

    began = time.monotonic()
    claim.run_due()
    took = time.monotonic() - began

    assert took < 20  # the exchange's deadline is 1.5 s; without one, the dripping goes on for a minute
    [attempt] = Attempt.objects.all()
    assert attempt.outcome == "paused" and "timed out" in attempt.error
    ep.refresh_from_db()
    assert ep.consecutive_failures == 1 and ep.paused_at is not None


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_a_non_finite_retry_after_is_ignored(value):
    assert webhooks_delivery.retry_after(value) is None


def test_a_receiver_answering_retry_after_nan_gets_the_normal_back_off(receiver, settings):
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 7
    Endpoint.objects.create(name="r", url=receiver.url(), events=["user.signed_up"])
    receiver.answer(Reply(503, headers={"Retry-After": "nan"}))
    site_event.send(sender="tests", type="user.signed_up", data={})

    claim.run_due()

    [attempt] = Attempt.objects.all()
    assert attempt.outcome == "retry" and attempt.error == "503 Service Unavailable"
    d = Delivery.objects.get()
    wait = (d.next_attempt_at - attempt.started_at).total_seconds()
    assert 6 < wait < 60
    assert Endpoint.objects.get().consecutive_failures == 1


@pytest.mark.parametrize(
    ("username", "shown"),
    [
        ("@channel", "@\u200bchannel"),
        ("<!here>", "&lt;!here&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("a&b", "a&amp;b"),
    ],
)
def test_chat_messages_carry_no_mention_or_markup_a_username_brings(receiver, username, shown):
    Endpoint.objects.create(name="chat", url=receiver.url(), events=["user.signed_up"], format=Endpoint.Format.CHAT)
    site_event.send(sender="tests", type="user.signed_up", data={}, summary=f"New user signed up: {username}")

    claim.run_due()

    text = json.loads(receiver.received[0].body)["text"]
    assert text == f"New user signed up: {shown}"
    assert "@channel" not in text and "<" not in text
