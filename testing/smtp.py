"""A real SMTP server on loopback (aiosmtpd) that records what arrives and can misbehave on cue."""

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list
    data: bytes
    peer: tuple = ()
    at: float = field(default_factory=time.time)

    @property
    def email(self):
        return message_from_bytes(self.data, policy=policy.default)

    @property
    def subject(self):
        return self.email["Subject"]


class RecordingHandler:
    """aiosmtpd handler: keeps every accepted message; refuses, rejects or stalls when told to."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.refuse_until = 0.0  # answer DATA with ``refuse_reply`` until this time
        self.refuse_count = 0  # ... and this many more DATA, whenever they come
        self.refuse_reply = "421 4.3.2 Service busy, try later"
        self.rejected = {}  # address -> reply for RCPT TO
        self.delay = 0.0  # seconds to wait before answering DATA (a slow relay)
        self.data_attempts = 0
        self.rcpt_attempts = []  # every RCPT TO address offered, accepted or not

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts.append(address)
        if address.lower() in self.rejected:
            return self.rejected[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_attempts += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if time.time() < self.refuse_until:
            return self.refuse_reply
        with self.lock:
            refuse, self.refuse_count = self.refuse_count > 0, max(self.refuse_count - 1, 0)
        if refuse:
            return self.refuse_reply
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content), tuple(session.peer))
            )
        return "250 Message accepted for delivery"


class SMTPServer:
    """Start with ``start()``; ``host``/``port``/``url`` say where it listens."""

    def __init__(self, host="127.0.0.1", port=0):
        self.handler = RecordingHandler()
        self.controller = Controller(self.handler, hostname=host, port=port or _free_port(host))
        self.host, self.port = host, self.controller.port

    @property
    def url(self):
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self):
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def refuse_for(self, seconds, reply="421 4.3.2 Service busy, try later"):
        """Answer every DATA with ``reply`` for the next ``seconds``."""
        self.handler.refuse_reply = reply
        self.handler.refuse_until = time.time() + seconds

    def refuse_next(self, count, reply="421 4.3.2 Service busy, try later"):
        """Answer the next ``count`` DATA with ``reply``: a relay busy for a while, however slowly the client comes."""
        self.handler.refuse_reply = reply
        with self.handler.lock:
            self.handler.refuse_count = count

    def reject(self, address, reply="550 5.1.1 No such user"):
        """Refuse ``address`` at RCPT TO from now on."""
        self.handler.rejected[address.lower()] = reply

    def slow_down(self, seconds):
        self.handler.delay = seconds

    def wait_for(self, count, timeout=30.0):
        """Wait until ``count`` messages arrived; return them (raise on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.handler.messages) >= count:
                return self.messages
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.handler.messages)} of {count} e-mails arrived within {timeout} s")


def _free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
